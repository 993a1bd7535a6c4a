import Foundation
import ParleyCodec

/// cbor2's canonical round trip (its C extension, `cbor2.loads` then `cbor2.dumps(canonical=True)`)
/// of the same bytes, in a Python process started for it: a second, outside reference for the codec.
/// Its output is not byte-identical (cbor2 maps the envelope's items to Python values and back).
public enum CBOR2Reference {
    /// Round trips per CPU-second of the Python process, or nil when no Python with cbor2 and its C
    /// extension is found (`PARLEY_PYTHON`, then `.build-venv/bin/python` that `.ci/run` makes, then `python3`).
    public static func rate(of bytes: [UInt8], seconds: Double) -> Double? {
        let script = """
            import sys, time, cbor2, _cbor2
            data = bytes.fromhex(sys.argv[1]); seconds = float(sys.argv[2])
            n = 0; start = time.process_time()
            while time.process_time() - start < seconds:
                for _ in range(1000): cbor2.dumps(cbor2.loads(data), canonical=True)
                n += 1000
            print(n / (time.process_time() - start))
            """
        let hex = Hex.encode(bytes)
        for python in candidates() {
            guard let output = try? runTool(python, ["-c", script, hex, String(seconds)]),
                let rate = Double(output.trimmingCharacters(in: .whitespacesAndNewlines))
            else { continue }
            return rate
        }
        return nil
    }

    private static func candidates() -> [String] {
        var list: [String] = []
        if let python = ProcessInfo.processInfo.environment["PARLEY_PYTHON"] { list.append(python) }
        list.append(sourceRoot.appendingPathComponent(".build-venv/bin/python").path)
        list.append("python3")
        return list
    }
}
