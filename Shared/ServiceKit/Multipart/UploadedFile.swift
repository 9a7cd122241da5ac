import Foundation
import Hummingbird
import NIOFileSystem

/// A file received through a multipart form: in memory when small, in a temporary file above
/// `UPLOAD_SPOOL_BYTES`. Temporary files are deleted after the response unless saved.
public struct UploadedFile: Sendable, Equatable {
    /// The client's file name, reduced to its last path component.
    public var filename: String
    /// The part's `Content-Type`, `application/octet-stream` when absent.
    public var contentType: String
    /// Bytes received.
    public var size: Int
    /// The temporary file holding the bytes, when they were spooled to disk.
    public var path: String?
    /// The bytes, when they stayed in memory.
    public var data: ByteBuffer?

    public init(filename: String, contentType: String, size: Int, path: String? = nil, data: ByteBuffer? = nil) {
        self.filename = filename
        self.contentType = contentType
        self.size = size
        self.path = path
        self.data = data
    }

    /// Moves (or writes) the file to `target`, replacing what was there, through NIOFileSystem
    /// (its own threads, never an event loop or the cooperative pool). A spooled file is renamed,
    /// or copied when the temporary folder is on another file system; bytes in memory are written
    /// to a sibling file first, so a reader never sees a half-written `target`.
    public func save(to target: String) async throws {
        let files = FileSystem.shared
        if let path {
            try await files.replaceItem(at: FilePath(target), withItemAt: FilePath(path))
            return
        }
        let partial = target + ".partial-" + UUID().uuidString.prefix(8).lowercased()
        do {
            try await files.withFileHandle(forWritingAt: FilePath(partial), options: .newFile(replaceExisting: true)) { handle in
                if let data { _ = try await handle.write(contentsOf: data.readableBytesView, toAbsoluteOffset: 0) }
            }
            try await files.replaceItem(at: FilePath(target), withItemAt: FilePath(partial))
        } catch {
            _ = try? await files.removeItem(at: FilePath(partial))
            throw error
        }
    }
}

extension UploadedFile: FieldValue {
    /// Marks an uploaded file among text values; random per process. Text inputs are only ever
    /// strings, so no client input can produce the marker object.
    static let marker = "$upload-" + UUID().uuidString

    /// The files of the multipart form being read, set around reading its model: the request's
    /// own state, not a process-wide registry.
    @TaskLocal static var requestFiles: [UploadedFile] = []

    /// How the form's file at `index` is presented to the model reader.
    static func token(at index: Int) -> JSONValue {
        .object([marker: .int(index)])
    }

    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<UploadedFile>, issues: inout IssueCollector) -> UploadedFile? {
        if case .object(let object) = value, case .int(let index)? = object[marker], requestFiles.indices.contains(index) {
            return requestFiles[index]
        }
        issues.add(ValidationIssue(
            type: "value_error", loc: loc, msg: "Value error, Expected UploadFile, received: <class 'str'>",
            input: value, ctx: ["error": .object([:])]
        ))
        return nil
    }

    public static func schema(rules: FieldRules<UploadedFile>, in components: inout SchemaComponents) -> JSONSchemaValue {
        .string(format: .other("binary"), contentMediaType: .other("application/octet-stream"))
    }

    public func writeJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("filename", filename)
        writer.field("content_type", contentType)
        writer.field("size", size)
        writer.endObject()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ModelCodingKey.self)
        try container.encode(filename, forKey: ModelCodingKey("filename"))
        try container.encode(contentType, forKey: ModelCodingKey("content_type"))
        try container.encode(size, forKey: ModelCodingKey("size"))
    }
}
