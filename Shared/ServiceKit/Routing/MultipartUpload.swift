import Foundation
import Hummingbird
import MultipartKit
import NIOPosix

/// A file received through a multipart form, already on disk.
public struct UploadedFile: Sendable, Equatable {
    /// The client's file name, reduced to its last path component.
    public var filename: String
    /// The part's `Content-Type`, `application/octet-stream` when absent.
    public var contentType: String
    /// Bytes written.
    public var size: Int
    /// Where the bytes are: a temporary file the caller moves or deletes.
    public var path: String
}

/// Streams one file field of a `multipart/form-data` body to disk as it arrives, never holding the
/// whole upload in memory. Disk writes run on NIO's thread pool.
public enum MultipartUpload {
    /// Receives field `field` into a new file under `directory`. 415 when the body is not multipart,
    /// 413 as soon as `context.maxUploadBytes` is crossed, 422 when the field is missing.
    public static func receiveFile(_ request: Request, context: FleetContext, field: String = "file", into directory: String) async throws -> UploadedFile {
        guard let contentType = request.headers[.contentType],
            contentType.lowercased().hasPrefix("multipart/form-data"),
            let boundary = Self.boundary(from: contentType)
        else {
            throw HTTPProblem.unsupportedMediaType("multipart/form-data")
        }
        let limit = context.maxUploadBytes
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw HTTPProblem.contentTooLarge
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/upload-" + UUID().uuidString.lowercased()
        let state = PartState(field: field)
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in state.header(name, value) }
        parser.onBody = { buffer in state.body(&buffer) }
        parser.onPartComplete = { state.partComplete() }

        let writer = try await FileWriter.open(path)
        var received = 0
        do {
            for try await chunk in request.body {
                received += chunk.readableBytes
                if received > limit { throw HTTPProblem.contentTooLarge }
                do {
                    try parser.execute(chunk)
                } catch {
                    throw HTTPProblem(.badRequest, detail: "Malformed multipart body")
                }
                let pending = state.takePending()
                if pending.readableBytes > 0 { try await writer.write(pending) }
            }
            try await writer.close()
        } catch {
            try? await writer.close()
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
        guard state.found else {
            try? FileManager.default.removeItem(atPath: path)
            throw ValidationFailure([ValidationIssue(type: "missing", loc: ["body", .key(field)], msg: "Field required", input: nil)])
        }
        return UploadedFile(filename: state.filename, contentType: state.contentType, size: state.size, path: path)
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

/// The parser's callbacks are synchronous: they note headers and stash the wanted part's bytes,
/// which the receiving task then writes out between chunks. Used by one task only.
private final class PartState: @unchecked Sendable {
    let field: String
    var headers: [String: String] = [:]
    var inWantedPart = false
    var found = false
    var filename = "upload"
    var contentType = "application/octet-stream"
    var size = 0
    private var pending = ByteBuffer()

    init(field: String) { self.field = field }

    func header(_ name: String, _ value: String) {
        headers[name.lowercased()] = value
    }

    func body(_ buffer: inout ByteBuffer) {
        if !inWantedPart, !found, let disposition = headers["content-disposition"],
            MultipartUpload.dispositionParameter("name", in: disposition) == field
        {
            inWantedPart = true
            found = true
            noteFilename(disposition)
            contentType = headers["content-type"] ?? contentType
        }
        if inWantedPart {
            size += buffer.readableBytes
            pending.writeBuffer(&buffer)
        }
    }

    func partComplete() {
        if inWantedPart {
            inWantedPart = false
        } else if !found, let disposition = headers["content-disposition"],
            MultipartUpload.dispositionParameter("name", in: disposition) == field
        {
            // An empty file part: no body callback came.
            found = true
            noteFilename(disposition)
            contentType = headers["content-type"] ?? contentType
        }
        headers = [:]
    }

    /// Keeps the client's file name without any folder part, at most 255 characters.
    private func noteFilename(_ disposition: String) {
        guard let name = MultipartUpload.dispositionParameter("filename", in: disposition) else { return }
        let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        filename = last.isEmpty ? "upload" : String(last.prefix(255))
    }

    func takePending() -> ByteBuffer {
        defer { pending.clear() }
        return pending
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
