import NIOFileSystem

/// File-system work for services (an image store, say) through NIOFileSystem, which runs it on
/// its own threads: a handler never blocks an event loop or the cooperative pool on the disk.
public enum FileStorage {
    /// Creates `path` and any missing parents; an existing folder is fine.
    public static func createDirectory(_ path: String) async throws {
        try await FileSystem.shared.createDirectory(at: FilePath(path), withIntermediateDirectories: true)
    }

    /// Removes the file or folder at `path`; true when something was there.
    @discardableResult
    public static func remove(_ path: String) async throws -> Bool {
        try await FileSystem.shared.removeItem(at: FilePath(path)) > 0
    }

    /// Whether anything exists at `path`.
    public static func exists(_ path: String) async throws -> Bool {
        try await FileSystem.shared.info(forFileAt: FilePath(path)) != nil
    }
}
