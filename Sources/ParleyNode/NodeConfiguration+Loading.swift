import Configuration
import Foundation

extension NodeConfiguration {
    /// Reads `file` (JSON) with overrides from `environment` (`PARLEY_*`), and checks every value's
    /// type and range; with `checkResources`, also the files it names (`checkResources()`). Throws
    /// `ConfigurationError` listing every problem found.
    public static func load(
        file: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        checkResources: Bool = false
    ) async throws -> NodeConfiguration {
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ConfigKey("parley"))
        ]
        var peerIDs: [String]? = nil
        var fileObject: [String: Any]?
        if let file {
            do {
                let location = ConfigReader(
                    provider: InMemoryProvider(values: [
                        AbsoluteConfigKey(["filePath"]): ConfigValue(.string(file), isSecret: false)
                    ])
                )
                providers.append(try await FileProvider<JSONSnapshot>(config: location))
            } catch {
                // Foundation's JSON errors keep the useful part (what, and where) in NSDebugDescription.
                var detail = ((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String) ?? "\(error)"
                if let range = detail.range(of: #"around character (\d+)"#, options: .regularExpression),
                    let offset = Int(detail[range].split(separator: " ").last ?? ""),
                    let data = FileManager.default.contents(atPath: file), offset <= data.count
                {
                    let before = data.prefix(offset)
                    let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
                    let column = offset - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
                    detail += " (line \(line), column \(column))"
                }
                throw ConfigurationError(
                    file: file,
                    problems: [ConfigurationProblem(key: "(file)", "cannot read \(file) as a JSON object: \(detail)")]
                )
            }
            // swift-configuration cannot enumerate keys: the file is read as an object too, for the
            // peer ids (the keys of `peers`) and for the keys parleyd does not read.
            fileObject = FileManager.default.contents(atPath: file).flatMap {
                try? JSONSerialization.jsonObject(with: $0) as? [String: Any]
            }
            if let peers = fileObject?["peers"] {
                guard let map = peers as? [String: Any] else {
                    throw ConfigurationError(
                        file: file,
                        problems: [
                            ConfigurationProblem(
                                key: "peers",
                                "must be an object {\"<participant id>\": {\"url\": \"https://…\"}}"
                            )
                        ]
                    )
                }
                peerIDs = map.keys.sorted()
            }
        }
        var reader = ConfigurationReader(providers: providers)
        let configuration = reader.read(peerIDs: peerIDs, environment: environment)
        var problems = reader.problems
        if let fileObject { problems += unknownKeys(in: fileObject, known: reader.asked) }
        if checkResources, let configuration { problems += configuration.checkResources() }
        guard let configuration, problems.isEmpty else {
            throw ConfigurationError(file: file, problems: problems)
        }
        return configuration
    }

    /// The file's keys that parleyd does not read (a misspelt key would otherwise leave its default
    /// in force without a word), each with the closest known key.
    static func unknownKeys(in object: [String: Any], known: Set<String>) -> [ConfigurationProblem] {
        var problems: [ConfigurationProblem] = []
        func walk(_ value: Any, _ path: [String]) {
            let key = path.joined(separator: ".")
            if path.count == 3, path[0] == "peers", ["url", "via"].contains(path[2]) { return }
            if key == "peers", (value as? [String: Any])?.isEmpty == true { return }
            if known.contains(key) || (path.count == 2 && path[0] == "peers") && !(value is [String: Any]) { return }
            if let object = value as? [String: Any], object.isEmpty, known.contains(where: { $0.hasPrefix(key + ".") })
            {
                return
            }
            if let object = value as? [String: Any], !object.isEmpty, path.count < 8 {
                for (name, member) in object.sorted(by: { $0.key < $1.key }) { walk(member, path + [name]) }
                return
            }
            let candidates =
                path.first == "peers" && path.count == 3
                ? ["url", "via"].map { "peers.\(path[1]).\($0)" } : Array(known)
            let closest = candidates.min { editDistance($0, key) < editDistance($1, key) }
            let hint =
                closest.flatMap { editDistance($0, key) <= max(2, key.count / 4) ? " (did you mean \($0)?)" : nil }
                ?? ""
            problems.append(
                .init(
                    key: key,
                    "is not a parleyd setting\(hint); remove it or correct its name (CONFIGURATION.md lists every key)"
                )
            )
        }
        for (name, value) in object.sorted(by: { $0.key < $1.key }) { walk(value, [name]) }
        return problems
    }
}
