import ParleyCodec

/// Annual declaration (type 5): a policy statement and the launches of a year, per class.
public struct AnnualDeclaration: Sendable, Hashable, NotificationFields {
    static let notificationType = NotificationType.annualDeclaration
    static let placeholder = AnnualDeclaration(year: 2000, policy: .placeholder, launches: [])
    var body: NotificationBody { .annualDeclaration(self) }

    public static let yearRange: ClosedRange<UInt64> = 2000...2199
    public static let maximumCount: UInt64 = 100_000

    public struct LaunchCount: Sendable, Hashable {
        public var vehicleClass: VehicleClass
        public var count: UInt32
        public init(vehicleClass: VehicleClass, count: UInt32) {
            self.vehicleClass = vehicleClass
            self.count = count
        }
    }

    public var year: UInt16
    public var policy: LocalizedText
    public var launches: [LaunchCount]

    public init(year: UInt16, policy: LocalizedText, launches: [LaunchCount]) {
        self.year = year
        self.policy = policy
        self.launches = launches
    }

    /// The field table (NOTIFICATIONS.md §3.5).
    mutating func fields<V: FieldVisitor>(_ table: inout V) throws(V.Failure) where V.Body == Self {
        try table.required(1, "year", &year, .uint(Self.yearRange, meaning: "year"))
        try table.required(2, "policy", &policy, .localizedText(65_536))
        try table.required(3, "launches", &launches, LaunchCountsKind())
    }

    func validateRules() throws {
        for i in launches.indices.dropFirst()
        where launches[i - 1].vehicleClass.rawValue >= launches[i].vehicleClass.rawValue {
            throw ProtocolError(
                .invalidField,
                field: "launches[\(i)]",
                "classes must be unique and in ascending order of their codes"
            )
        }
    }
}

/// The launches of a year: `[class, count]` pairs, at most one per class. A composition may list
/// them in any order; the body holds them in ascending order of their class codes.
struct LaunchCountsKind: FieldKind {
    func read(_ reader: inout CBORReader) throws -> [AnnualDeclaration.LaunchCount] {
        let n = try Field.array(&reader, count: 0...VehicleClass.allCases.count)
        return try Field.elements(&reader, count: n) { reader in
            let (vehicleClass, count) = try Field.pair(
                &reader,
                { try Field.code(&$0, VehicleClass.self) },
                { try Field.uint(&$0, 0...AnnualDeclaration.maximumCount, unit: "launches") }
            )
            return AnnualDeclaration.LaunchCount(vehicleClass: vehicleClass, count: UInt32(count))
        }
    }

    func write(_ value: [AnnualDeclaration.LaunchCount], to w: inout CBORWriter) {
        w.writeArrayHeader(value.count)
        for launch in value {
            w.writeArrayHeader(2)
            w.write(code: launch.vehicleClass)
            w.writeUnsigned(UInt64(launch.count))
        }
    }

    func compose(_ json: JSONValue, path: String) throws -> [AnnualDeclaration.LaunchCount] {
        guard case .array(let list) = json else {
            throw ProtocolError(.invalidField, field: path, "expected an array of {\"class\": ..., \"count\": ...}")
        }
        var launches: [AnnualDeclaration.LaunchCount] = []
        for (i, item) in list.enumerated() {
            let e = try JSONFields(item, path: path + "[\(i)]", required: ["class", "count"])
            let vehicleClass = try JSONFields.enumeration(e["class"]!, VehicleClass.self, e.path("class"))
            guard !launches.contains(where: { $0.vehicleClass == vehicleClass }) else {
                throw ProtocolError(
                    .invalidField,
                    field: e.path("class"),
                    "class \(vehicleClass) appears twice in launches"
                )
            }
            let count = try JSONFields.uint(
                e["count"]!,
                0...AnnualDeclaration.maximumCount,
                unit: "launches",
                e.path("count")
            )
            launches.append(.init(vehicleClass: vehicleClass, count: UInt32(count)))
        }
        return launches.sorted { $0.vehicleClass.rawValue < $1.vehicleClass.rawValue }
    }

    func check(_ value: [AnnualDeclaration.LaunchCount]) throws {
        for (i, launch) in value.enumerated() where UInt64(launch.count) > AnnualDeclaration.maximumCount {
            throw ProtocolError(.invalidField, field: "[\(i)]", "\(launch.count) launches is out of range 0…100 000")
        }
    }

    func text(_ value: [AnnualDeclaration.LaunchCount]) -> String {
        value.map { "\($0.vehicleClass.name) \($0.count)" }.joined(separator: ", ")
    }

    /// One line per class: `launches (ballistic-missile)`.
    func lines(_ value: [AnnualDeclaration.LaunchCount], label: String) -> [(String, String)] {
        value.map { ("\(label) (\($0.vehicleClass.name))", String($0.count)) }
    }

    var cddl: String { "[* launch-count]" }
}
