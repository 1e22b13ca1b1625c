/// Typed, path-aware access to one JSON object of the config, used only while loading.
///
/// Every accessor names the full key path in its error, and `checkKeys` rejects keys the schema
/// does not know (a typo such as `dir_pth` must not be silently ignored).
struct ConfigObject {
    let path: String
    let fields: [String: JSONValue]

    init(_ value: JSONValue, path: String) throws {
        guard case .object(let fields) = value else {
            throw ConfigError(path.isEmpty ? "(top level)" : path, "expected an object, found \(value.typeName)")
        }
        self.path = path
        self.fields = fields
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func checkKeys(_ allowed: Set<String>) throws {
        for key in fields.keys.sorted() where !allowed.contains(key) {
            throw ConfigError(keyPath(key), "unknown key (allowed here: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func has(_ key: String) -> Bool {
        if case .some(.null) = fields[key] { return false }
        return fields[key] != nil
    }

    func string(_ key: String) throws -> String? {
        guard let v = fields[key], v != .null else { return nil }
        guard case .string(let s) = v else { throw ConfigError(keyPath(key), "expected a string, found \(v.typeName)") }
        return s
    }

    func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw ConfigError(keyPath(key), "is required") }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = fields[key], v != .null else { return nil }
        guard case .bool(let b) = v else { throw ConfigError(keyPath(key), "expected true or false, found \(v.rendered)") }
        return b
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = fields[key], v != .null else { return nil }
        guard case .number(let d) = v, d == d.rounded(), abs(d) < 1e15 else {
            throw ConfigError(keyPath(key), "expected an integer, found \(v.rendered)")
        }
        let i = Int(d)
        guard range.contains(i) else {
            throw ConfigError(keyPath(key), "\(i) is out of range (\(range.lowerBound)-\(range.upperBound))")
        }
        return i
    }

    /// The elements of an array value with their paths; nil when the key is absent.
    func array(_ key: String) throws -> [(value: JSONValue, path: String)]? {
        guard let v = fields[key], v != .null else { return nil }
        guard case .array(let items) = v else { throw ConfigError(keyPath(key), "expected an array, found \(v.typeName)") }
        return items.enumerated().map { ($0.element, "\(keyPath(key))[\($0.offset)]") }
    }

    func stringArray(_ key: String) throws -> [String]? {
        try array(key)?.map { item in
            guard case .string(let s) = item.value else {
                throw ConfigError(item.path, "expected a string, found \(item.value.typeName)")
            }
            return s
        }
    }

    func object(_ key: String) throws -> ConfigObject? {
        guard let v = fields[key], v != .null else { return nil }
        return try ConfigObject(v, path: keyPath(key))
    }
}
