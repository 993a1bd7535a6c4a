import Foundation
import ParleyCodec
import ParleyProtocol

/// The codec benchmark's work: a pre-launch envelope encoded and decoded (with validation), and the
/// same notification through Foundation's JSON codec, the reference measured in the same run.
public final class CodecWorkload {
    public let envelope = Examples.envelope(.preLaunch)
    public let tree: CBOR
    public let json: PreLaunchJSON
    private let encoder = JSONEncoder()
    private let decoder = JSONDecoder()

    public init() {
        tree = envelope.cbor
        json = PreLaunchJSON(envelope)
    }

    /// Parley's envelope: encode, then decode and validate (`Envelope(decoding:)`).
    @inline(__always)
    public func envelopeRoundTrip() throws {
        opaque(try Envelope(decoding: envelope.encoded))
    }

    /// The same bytes as a generic CBOR item tree, without the envelope's types and rules.
    @inline(__always)
    public func itemRoundTrip() throws {
        opaque(try CBOR(decoding: CBOREncoder.encode(tree)))
    }

    /// The reference: the same notification through Foundation's JSONEncoder and JSONDecoder.
    @inline(__always)
    public func jsonRoundTrip() throws {
        opaque(try decoder.decode(PreLaunchJSON.self, from: encoder.encode(json)))
    }
}

/// The same pre-launch notification as a Codable structure, for the JSON reference.
public struct PreLaunchJSON: Codable {
    public struct Recipient: Codable {
        var participant: String
        var sequence: UInt64
    }
    public struct Position: Codable {
        var lat: Int32
        var lon: Int32
    }
    public struct Area: Codable {
        var polygon: [Position]?
        var center: Position?
        var radius: UInt32?
    }

    var version = 1
    var id: String
    var sender: String
    var recipients: [Recipient]
    var created: Int64
    var type: UInt64
    var vehicleClass: UInt64
    var windowStart: Int64
    var windowEnd: Int64
    var launchArea: Area
    var impactAreas: [Area]
    var azimuth: UInt16
    var late: Bool
    var designator: String?
    var remarks: [String]?

    public init(_ envelope: Envelope) {
        guard case .preLaunch(let body) = envelope.body else { fatalError("not a pre-launch envelope") }
        func area(_ a: ParleyProtocol.Area) -> Area {
            switch a {
            case .polygon(let v):
                return Area(polygon: v.map { Position(lat: $0.latitudeMicrodegrees, lon: $0.longitudeMicrodegrees) })
            case .circle(let c, let r):
                return Area(center: Position(lat: c.latitudeMicrodegrees, lon: c.longitudeMicrodegrees), radius: r)
            }
        }
        id = envelope.id.hex
        sender = envelope.sender.rawValue
        recipients = envelope.recipients.map { Recipient(participant: $0.participant.rawValue, sequence: $0.sequence) }
        created = envelope.created.secondsSince1970
        type = envelope.type.rawValue
        vehicleClass = body.vehicleClass.rawValue
        windowStart = body.windowStart.secondsSince1970
        windowEnd = body.windowEnd.secondsSince1970
        launchArea = area(body.launchArea)
        impactAreas = body.impactAreas.map(area)
        azimuth = body.azimuthCentidegrees
        late = body.late
        designator = body.designator
        remarks = envelope.remarks.map { [$0.language, $0.text] }
    }
}
