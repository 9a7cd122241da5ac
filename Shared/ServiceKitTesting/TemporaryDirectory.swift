import Foundation

/// Temporary folders for test data.
public enum TemporaryDirectory {
    /// Creates a new empty folder under the system's temporary directory.
    public static func make(prefix: String) throws -> String {
        let path = NSTemporaryDirectory() + "fleet-\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
