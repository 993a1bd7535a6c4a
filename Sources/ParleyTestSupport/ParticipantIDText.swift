import ParleyProtocol

extension String {
    /// The participant id this test constant names (test constants are valid ids; anything else traps).
    public var pid: ParticipantID { try! ParticipantID(self) }
}
