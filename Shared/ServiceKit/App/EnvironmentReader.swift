import Foundation
import Logging

/// A start-up configuration problem: names the variable and the bad value so the one line on
/// stderr is enough to fix it.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// The environment variable at fault.
    public let variable: String
    /// The value it had.
    public let value: String
    /// Why it was refused, phrased for an operator.
    public let reason: String

    public init(variable: String, value: String, reason: String) {
        self.variable = variable
        self.value = value
        self.reason = reason
    }

    public var description: String { "invalid \(variable)=\"\(value)\": \(reason)" }
}

/// Typed reads of environment variables (12-factor); every parse failure is a `ConfigurationError`.
public struct EnvironmentReader: Sendable {
    /// The raw variables, usually `ProcessInfo.processInfo.environment`.
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    /// A variable's value, treating an empty string as unset.
    public func string(_ name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    /// A switch: `true`/`1`/`on`/`yes` or `false`/`0`/`off`/`no`.
    public func flag(_ name: String, default fallback: Bool) throws -> Bool {
        guard let raw = string(name) else { return fallback }
        switch raw.lowercased() {
        case "true", "1", "on", "yes": return true
        case "false", "0", "off", "no": return false
        default: throw ConfigurationError(variable: name, value: raw, reason: "expected true or false")
        }
    }

    /// A TCP port, 0–65535 (0 asks the kernel for a free one).
    public func port(_ name: String, default fallback: Int) throws -> Int {
        guard let raw = string(name) else { return fallback }
        guard let port = Int(raw.trimmingCharacters(in: .whitespaces)), (0...65535).contains(port) else {
            throw ConfigurationError(variable: name, value: raw, reason: "expected a port number from 0 to 65535")
        }
        return port
    }

    /// A duration: `2`, `2s`, `1.5s`, `500ms`, `1m` (a bare number is seconds).
    public func duration(_ name: String, default fallback: Duration) throws -> Duration {
        guard let raw = string(name) else { return fallback }
        guard let value = Self.parseDuration(raw) else {
            throw ConfigurationError(variable: name, value: raw, reason: "expected a duration such as 2, 2s, 1.5s or 500ms")
        }
        return value
    }

    /// A size in bytes, a positive whole number.
    public func bytes(_ name: String, default fallback: Int) throws -> Int {
        guard let raw = string(name) else { return fallback }
        guard let value = Int(raw), value > 0 else {
            throw ConfigurationError(variable: name, value: raw, reason: "expected a positive number of bytes")
        }
        return value
    }

    /// A positive whole number.
    public func positiveInt(_ name: String) throws -> Int? {
        guard let raw = string(name) else { return nil }
        guard let value = Int(raw), value > 0 else {
            throw ConfigurationError(variable: name, value: raw, reason: "expected a positive whole number")
        }
        return value
    }

    /// A log level by swift-log's names, with `warn` accepted for `warning`.
    public func logLevel(_ name: String, default fallback: Logger.Level) throws -> Logger.Level {
        guard let raw = string(name) else { return fallback }
        guard let level = Logger.Level(name: raw) else {
            throw ConfigurationError(
                variable: name, value: raw,
                reason: "expected one of trace, debug, info, notice, warning, error, critical"
            )
        }
        return level
    }

    /// An absolute http(s) URL with a host, as peers are addressed.
    public func httpURL(_ name: String) throws -> URL? {
        guard let raw = string(name) else { return nil }
        guard let url = URL(string: raw), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            throw ConfigurationError(variable: name, value: raw, reason: "expected an http:// or https:// URL with a host")
        }
        if let port = url.port, !(1...65535).contains(port) {
            throw ConfigurationError(variable: name, value: raw, reason: "port out of range")
        }
        return url
    }

    static func parseDuration(_ raw: String) -> Duration? {
        let text = raw.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60)]
        var number = text
        var scale = 1.0
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            number = String(text.dropLast(suffix.count))
            scale = factor
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0, !number.hasPrefix("+") else { return nil }
        let nanoseconds = value * scale * 1_000_000_000
        guard nanoseconds < Double(Int64.max) else { return nil }
        return .nanoseconds(Int64(nanoseconds))
    }
}

extension Logger.Level {
    /// Parses swift-log's level names, accepting `warn` for `warning`.
    public init?(name: String) {
        let lowered = name.trimmingCharacters(in: .whitespaces).lowercased()
        if lowered == "warn" {
            self = .warning
        } else if let level = Logger.Level(rawValue: lowered) {
            self = level
        } else {
            return nil
        }
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    public var seconds: Double {
        let (s, attoseconds) = self.components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
