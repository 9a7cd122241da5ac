import Foundation

/// What was built: reported by `/info` and the `build_info` metric.
public struct BuildInfo: Sendable, Codable, Equatable {
    /// `SERVICE_VERSION`, else `0.1.0`.
    public var version: String
    /// The git commit the binary was built from (`git rev-parse HEAD`, 40 hex digits), else
    /// `unknown`.
    public var revision: String
    /// When the binary was built: `BUILD_DATE`, else the executable's modification time.
    public var buildDate: String
    /// Whether tracked files differed from `revision` when the binary was built, so that the
    /// revision alone does not say what was compiled.
    public var dirty: Bool

    /// A build described by hand (tests use `version: "test"`).
    public init(version: String, revision: String, buildDate: String, dirty: Bool = false) {
        self.version = version
        self.revision = revision
        self.buildDate = buildDate
        self.dirty = dirty
    }

    /// The revision and dirty flag stamped into ServiceKit when it was compiled (the BuildStamp
    /// plugin, Plugins/BuildStamp), or nil when the build could not see a git checkout nor a
    /// `GIT_REVISION` at build time.
    static var stamped: (revision: String, dirty: Bool)? {
        BuildStamp.revision == "unknown" ? nil : (BuildStamp.revision, BuildStamp.dirty)
    }

    /// The revision and dirty flag from the build-time stamp. `GIT_REVISION` at run time is used
    /// only when the build stamped none: the stamp describes the code that was compiled, and an
    /// environment variable set by a deployment can outlive the image it was written for. The
    /// version comes from `SERVICE_VERSION`, the build date from `BUILD_DATE` (the image sets
    /// them), else the executable's modification time.
    public static func current(environment: EnvironmentReader) -> BuildInfo {
        let executable = CommandLine.arguments.first.flatMap { path -> String? in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            guard let date = attributes?[.modificationDate] as? Date else { return nil }
            return TimestampClock.iso8601(date)
        }
        let stamp = stamped
        return BuildInfo(
            version: environment.string("SERVICE_VERSION") ?? "0.1.0",
            revision: stamp?.revision ?? environment.string("GIT_REVISION") ?? "unknown",
            buildDate: environment.string("BUILD_DATE") ?? executable ?? "unknown",
            dirty: stamp?.dirty ?? false
        )
    }
}
