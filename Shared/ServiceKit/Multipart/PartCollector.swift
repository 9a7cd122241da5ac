import Foundation
import NIOCore
import NIOFileSystem

/// The parser's callbacks are synchronous: they note headers and stash part bytes, which the
/// receiving task then writes out between chunks. Used by one task at a time.
final class PartCollector: MultipartPartSink, @unchecked Sendable {
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
                try await FileSystem.shared.createDirectory(at: FilePath(directory), withIntermediateDirectories: true)
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
            if let path = part.file.path { _ = try? await FileSystem.shared.removeItem(at: FilePath(path)) }
        }
    }
}
