import ArgumentParser
import BenchSupport
import Foundation

/// `parley-bench codec`: encode + decode of a pre-launch envelope, against Foundation's JSON codec
/// on the same notification in the same run, and cbor2's canonical round trip of the same bytes.
struct Codec: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Envelope encode + decode round trips per second, against Foundation JSON and cbor2 on the same data.",
        discussion:
            "Build in release for meaningful figures: swift run -c release --package-path Benchmarks --scratch-path .build-bench parley-bench codec"
    )

    @Option(help: "Seconds to run each measurement.")
    var seconds: Double = 2

    @Option(
        help: "Rounds, each measuring the envelope next to its Foundation JSON reference; the median ratio is reported."
    )
    var rounds = 3

    @Flag(help: "Measure only the Parley envelope round trip (for profiling; prints no ratio).")
    var envelopeOnly = false

    @Flag(name: .customLong("skip-cbor2"), help: "Skip the cbor2 reference (a Python process).")
    var skipCBOR2 = false

    func run() throws {
        let work = CodecWorkload()
        if envelopeOnly {
            let rate = try measureRate(seconds: seconds) { try work.envelopeRoundTrip() }
            return print("Parley envelope encode + decode + validate  \(formatRate(rate))")
        }
        let bytes = work.envelope.encoded
        print(
            "Pre-launch envelope: \(bytes.count) bytes CBOR; one core, \(seconds) CPU-s per figure, \(rounds) round(s)"
        )
        var envelope: [Double] = []
        var item: [Double] = []
        var json: [Double] = []
        for _ in 0..<max(1, rounds) {
            envelope.append(try measureRate(seconds: seconds) { try work.envelopeRoundTrip() })
            item.append(try measureRate(seconds: seconds) { try work.itemRoundTrip() })
            json.append(try measureRate(seconds: seconds, batch: 100) { try work.jsonRoundTrip() })
        }
        let ratios = zip(envelope, json).map { $0 / $1 }.sorted()
        print("  Parley envelope encode + decode + validate  \(formatRate(median(envelope)))")
        print("  Parley CBOR item encode + decode            \(formatRate(median(item)))")
        print("  Foundation JSON encode + decode (reference) \(formatRate(median(json)))")
        print(
            String(
                format: "  ratio envelope / Foundation JSON: %.1f× (rounds %.1f–%.1f)",
                median(ratios),
                ratios.first!,
                ratios.last!
            )
        )
        if !skipCBOR2 {
            if let cbor2 = CBOR2Reference.rate(of: bytes, seconds: seconds) {
                print(
                    "  cbor2 canonical loads + dumps (reference)   \(formatRate(cbor2))  (C extension, Python process CPU time)"
                )
                print(String(format: "  ratio envelope / cbor2: %.1f×", median(envelope) / cbor2))
            } else {
                print("  cbor2 reference: no Python with cbor2 found (PARLEY_PYTHON, .build-venv, python3); left out")
            }
        }
    }
}
