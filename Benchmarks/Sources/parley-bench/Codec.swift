import ArgumentParser
import Foundation
import ParleyCodec
import ParleyProtocol

/// `parley bench codec`: encode + decode of a pre-launch envelope, against Foundation's JSON codec
/// on the same notification in the same run.
struct BenchCodec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Envelope encode + decode round trips per second, against Foundation JSON on the same data.",
        discussion: "Build in release for meaningful figures: swift run -c release parley bench codec"
    )

    @Option(help: "Seconds to run each measurement.")
    var seconds: Double = 2

    @Flag(help: "Measure only the Parley envelope round trip (for profiling; prints no ratio).")
    var envelopeOnly = false

    func run() throws {
        let envelope = Examples.envelope(.preLaunch)
        let bytes = envelope.encoded
        let mirror = PreLaunchJSON(envelope)
        let jsonBytes = try JSONEncoder().encode(mirror)

        if envelopeOnly {
            let rate = try measureRate(seconds: seconds) { blackHole(try Envelope(decoding: envelope.encoded)) }
            return print("Parley envelope encode + decode + validate  \(formatRate(rate))")
        }
        let tree = envelope.cbor
        let typed = try measureRate(seconds: seconds) {
            let decoded = try Envelope(decoding: envelope.encoded)
            blackHole(decoded)
        }
        let generic = try measureRate(seconds: seconds) {
            let item = try CBOR(decoding: CBOREncoder.encode(tree))
            blackHole(item)
        }
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        let json = try measureRate(seconds: seconds, batch: 100) {
            let decoded = try decoder.decode(PreLaunchJSON.self, from: encoder.encode(mirror))
            blackHole(decoded)
        }

        print("Pre-launch envelope: \(bytes.count) bytes CBOR, \(jsonBytes.count) bytes JSON; one core, \(seconds) CPU-s each")
        print("  Parley envelope encode + decode + validate  \(formatRate(typed))")
        print("  Parley CBOR item encode + decode            \(formatRate(generic))")
        print("  Foundation JSON encode + decode (reference) \(formatRate(json))")
        print(String(format: "  ratio envelope / Foundation JSON: %.1f×; target 500 000/s: %@", typed / json,
                     typed >= 500_000 ? "met" : "NOT met"))
    }
}

/// The same pre-launch notification as a Codable structure, for the JSON reference.
struct PreLaunchJSON: Codable {
    struct Recipient: Codable { var participant: String; var sequence: UInt64 }
    struct Position: Codable { var lat: Int32; var lon: Int32 }
    struct Area: Codable { var polygon: [Position]?; var center: Position?; var radius: UInt32? }

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

    init(_ envelope: Envelope) {
        guard case .preLaunch(let body) = envelope.body else { fatalError("not a pre-launch envelope") }
        func area(_ a: ParleyProtocol.Area) -> Area {
            switch a {
            case .polygon(let v): return Area(polygon: v.map { Position(lat: $0.latitudeMicrodegrees, lon: $0.longitudeMicrodegrees) })
            case .circle(let c, let r): return Area(center: Position(lat: c.latitudeMicrodegrees, lon: c.longitudeMicrodegrees), radius: r)
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
