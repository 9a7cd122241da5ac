import Foundation
import Hummingbird

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
        guard var parser = MultipartParser(boundary: boundary) else {
            throw Self.malformed("Malformed multipart body: bad boundary")
        }
        var sink = state
        var received = 0
        do {
            for try await chunk in request.body {
                received += chunk.readableBytes
                if received > limit { throw HTTPProblem.contentTooLarge }
                try parser.feed(chunk, into: &sink)
                if let problem = state.problem { throw problem }
                try await state.flush()
            }
            try parser.finish()
        } catch let malformed as MultipartParser.Malformed {
            throw Self.malformed(malformed.description)
        }
        try await state.finish()
        return TextFields(state.texts, files: state.files.map { ($0.field, $0.file) })
    }

    /// 400 for a body that cannot be read; it ends the connection, so the rest is not read.
    static func malformed(_ detail: String) -> HTTPProblem {
        var problem = HTTPProblem(.badRequest, detail: detail)
        problem.endsConnection = true
        return problem
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
