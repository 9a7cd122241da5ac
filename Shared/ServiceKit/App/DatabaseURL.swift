import Foundation

/// Where a service keeps its data: a SQLite file (the default, nothing to install) or a
/// PostgreSQL server (for more than one replica).
public enum DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite file; relative paths are relative to the working directory.
    case sqlite(path: String)
    /// A PostgreSQL connection URL, `postgres://user:pass@host:port/db`.
    case postgres(url: String)

    /// Parses `sqlite:///relative.db`, `sqlite:////absolute.db` or `postgres://…`.
    public init(parsing raw: String, variable: String = "DATABASE_URL") throws {
        if raw.hasPrefix("sqlite://") {
            var path = String(raw.dropFirst("sqlite://".count))
            guard path.hasPrefix("/") else {
                throw ConfigurationError(variable: variable, value: raw, reason: "expected sqlite:///relative/path.db or sqlite:////absolute/path.db")
            }
            path.removeFirst()
            guard !path.isEmpty, !path.hasSuffix("/") else {
                throw ConfigurationError(variable: variable, value: raw, reason: "the SQLite URL names no file")
            }
            self = .sqlite(path: path)
        } else if raw.hasPrefix("postgres://") || raw.hasPrefix("postgresql://") {
            guard let components = URLComponents(string: raw), let host = components.host, !host.isEmpty else {
                throw ConfigurationError(variable: variable, value: Self.masked(raw), reason: "expected postgres://user:pass@host:port/db")
            }
            if let port = components.port, !(1...65535).contains(port) {
                throw ConfigurationError(variable: variable, value: Self.masked(raw), reason: "port out of range")
            }
            let database = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            guard !database.isEmpty else {
                throw ConfigurationError(variable: variable, value: Self.masked(raw), reason: "the PostgreSQL URL names no database")
            }
            self = .postgres(url: raw)
        } else {
            throw ConfigurationError(variable: variable, value: Self.masked(raw), reason: "expected a sqlite:// or postgres:// URL")
        }
    }

    /// The URL with any password replaced by `***`, safe for logs and `/info`.
    public var description: String {
        switch self {
        case .sqlite(let path): return path.hasPrefix("/") ? "sqlite:///\(path)" : "sqlite:///\(path)"
        case .postgres(let url): return Self.masked(url)
        }
    }

    /// Replaces the password of a URL with `***`.
    public static func masked(_ raw: String) -> String {
        guard var components = URLComponents(string: raw), components.password != nil else { return raw }
        components.password = "***"
        return components.string ?? raw
    }
}
