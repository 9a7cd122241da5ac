import Foundation
import Hummingbird
import MultipartKit
import NIOPosix
import Synchronization

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

    /// Moves (or writes) the file to `target`, replacing what was there; off the event loops.
    public func save(to target: String) async throws {
        try await NIOThreadPool.singleton.runIfActive { [self] in
            if let path {
                if rename(path, target) == 0 { return }
                guard errno == EXDEV else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                let temporary = target + ".partial"
                try? FileManager.default.removeItem(atPath: temporary)
                try FileManager.default.copyItem(atPath: path, toPath: temporary)
                guard rename(temporary, target) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
                try? FileManager.default.removeItem(atPath: path)
            } else {
                let bytes = data.map { Data($0.readableBytesView) } ?? Data()
                try bytes.write(to: URL(fileURLWithPath: target), options: .atomic)
            }
        }
    }
}

extension UploadedFile: FieldValue {
    /// Marks an uploaded file among text values; random per process so no client input can forge it.
    static let marker = "$upload-" + UUID().uuidString
    private static let registry = Mutex<[Int: UploadedFile]>([:])
    private static let counter = Atomic<Int>(0)

    /// Presents `file` to a model reader as a JSON value only this process can produce; it stays
    /// registered until an `UploadedFile` field claims it or `withdraw` forgets it.
    static func register(_ file: UploadedFile) -> JSONValue {
        let id = counter.wrappingAdd(1, ordering: .relaxed).newValue
        registry.withLock { $0[id] = file }
        return .object([marker: .int(id)])
    }

    /// Forgets the file behind `token` if no field claimed it (a file sent under a text field, or
    /// the first of two under one key): otherwise its bytes would stay in memory for good.
    static func withdraw(_ token: JSONValue) {
        guard case .object(let object) = token, case .int(let id)? = object[marker] else { return }
        _ = registry.withLock { $0.removeValue(forKey: id) }
    }

    /// The files registered and neither claimed nor withdrawn (tests look for leaks with it).
    static func registeredFiles() -> [UploadedFile] {
        registry.withLock { Array($0.values) }
    }

    public static func read(_ value: JSONValue, at loc: [ValidationIssue.Location], rules: FieldRules<UploadedFile>, issues: inout IssueCollector) -> UploadedFile? {
        if case .object(let object) = value, case .int(let id)? = object[marker],
            let file = registry.withLock({ $0.removeValue(forKey: id) })
        {
            return file
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

/// Streams a `multipart/form-data` body: text fields kept (each at most `maxBodyBytes`), file parts
/// kept in memory up to `uploadSpoolBytes` and spooled to a temporary file beyond, the whole body
/// refused with 413 past `maxUploadBytes`. Disk writes run on NIO's thread pool.
enum MultipartForm {
    static func receive(_ scope: RequestScope) async throws -> TextFields {
        let request = scope.request
        let context = scope.context
        // No body at all: every field is simply missing, as FastAPI reports it.
        if request.headers[.contentType] == nil, request.headers[.contentLength].flatMap(Int.init) ?? 0 == 0 {
            return TextFields([])
        }
        guard let contentType = request.headers[.contentType],
            RequestInputs.mediaType(contentType) == "multipart/form-data",
            let boundary = Self.boundary(from: contentType)
        else {
            throw HTTPProblem.unsupportedMediaType("multipart/form-data")
        }
        let limit = context.maxUploadBytes
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw HTTPProblem.contentTooLarge
        }
        let state = PartCollector(spoolAbove: context.uploadSpoolBytes, textLimit: context.maxBodyBytes, directory: context.uploadDirectory)
        scope.onCleanup { _ in await state.discardFiles() }
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in state.header(name, value) }
        parser.onBody = { buffer in state.body(&buffer) }
        parser.onPartComplete = { state.partComplete() }
        var received = 0
        for try await chunk in request.body {
            received += chunk.readableBytes
            if received > limit { throw HTTPProblem.contentTooLarge }
            do {
                try parser.execute(chunk)
            } catch {
                throw HTTPProblem(.badRequest, detail: "Malformed multipart body")
            }
            if let problem = state.problem { throw problem }
            try await state.flush()
        }
        try await state.finish()
        return TextFields(state.texts, files: state.files.map { ($0.field, $0.file) })
    }

    static func boundary(from contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    /// The value of a `Content-Disposition` parameter (`name`, `filename`).
    static func dispositionParameter(_ name: String, in header: String) -> String? {
        for parameter in header.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == name {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }
}

/// The parser's callbacks are synchronous: they note headers and stash part bytes, which the
/// receiving task then writes out between chunks. Used by one task at a time.
private final class PartCollector: @unchecked Sendable {
    struct FilePart {
        var field: String
        var file: UploadedFile
        var writer: FileWriter?
        var unwritten = ByteBuffer()
    }

    let spoolAbove: Int
    let textLimit: Int
    let directory: String
    var headers: [String: String] = [:]
    var texts: [(String, String)] = []
    var files: [FilePart] = []
    var problem: HTTPProblem?
    private var current: (name: String, isFile: Bool)?
    private var pending = ByteBuffer()

    init(spoolAbove: Int, textLimit: Int, directory: String) {
        self.spoolAbove = spoolAbove
        self.textLimit = textLimit
        self.directory = directory
    }

    func header(_ name: String, _ value: String) {
        headers[name.lowercased()] = value
    }

    private func startPart() {
        guard current == nil, let disposition = headers["content-disposition"],
            let name = MultipartForm.dispositionParameter("name", in: disposition)
        else { return }
        let filename = MultipartForm.dispositionParameter("filename", in: disposition)
        current = (name, filename != nil)
        if let filename {
            let last = filename.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
            let file = UploadedFile(
                filename: last.isEmpty ? "upload" : String(last.prefix(255)),
                contentType: headers["content-type"] ?? "application/octet-stream", size: 0, data: ByteBuffer()
            )
            files.append(FilePart(field: name, file: file))
        }
    }

    func body(_ buffer: inout ByteBuffer) {
        startPart()
        guard let current else { return }
        if current.isFile {
            let index = files.count - 1
            files[index].file.size += buffer.readableBytes
            files[index].unwritten.writeBuffer(&buffer)
        } else if pending.readableBytes + buffer.readableBytes > textLimit {
            problem = .contentTooLarge
        } else {
            pending.writeBuffer(&buffer)
        }
    }

    func partComplete() {
        startPart()
        if let current {
            if current.isFile {
                let index = files.count - 1
                if files[index].writer == nil, files[index].file.size <= spoolAbove {
                    files[index].file.data = files[index].unwritten
                    files[index].unwritten = ByteBuffer()
                }
            } else {
                texts.append((current.name, String(buffer: pending)))
                pending.clear()
            }
        }
        current = nil
        headers = [:]
    }

    /// Moves the bytes of file parts past the threshold to their temporary files.
    func flush() async throws {
        for index in files.indices where files[index].writer != nil || files[index].file.size > spoolAbove {
            if files[index].writer == nil {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let path = directory + "/upload-" + UUID().uuidString.lowercased()
                files[index].writer = try await FileWriter.open(path)
                files[index].file.path = path
                files[index].file.data = nil
            }
            if files[index].unwritten.readableBytes > 0 {
                try await files[index].writer!.write(files[index].unwritten)
                files[index].unwritten.clear()
            }
        }
    }

    /// Writes what is left of spooled files and closes them.
    func finish() async throws {
        try await flush()
        for index in files.indices {
            guard let writer = files[index].writer else { continue }
            try await writer.close()
            files[index].writer = nil
        }
    }

    func discardFiles() async {
        for part in files {
            if let writer = part.writer { try? await writer.close() }
            if let path = part.file.path { try? FileManager.default.removeItem(atPath: path) }
        }
    }
}

/// Writes to a file on NIO's blocking-I/O thread pool, never on an event loop or the cooperative pool.
private struct FileWriter: Sendable {
    let descriptor: Int32

    static func open(_ path: String) async throws -> FileWriter {
        let descriptor = try await NIOThreadPool.singleton.runIfActive {
            let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            return fd
        }
        return FileWriter(descriptor: descriptor)
    }

    func write(_ buffer: ByteBuffer) async throws {
        try await NIOThreadPool.singleton.runIfActive { [descriptor] in
            try buffer.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                    }
                    offset += written
                }
            }
        }
    }

    func close() async throws {
        try await NIOThreadPool.singleton.runIfActive { [descriptor] in
            _ = Foundation.close(descriptor)
        }
    }
}
