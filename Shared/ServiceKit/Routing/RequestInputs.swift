import Foundation
import Hummingbird

/// Body reading shared by the typed inputs: media-type checks and limits, so every route refuses
/// the same way (415 for a wrong content type, 413 as soon as a body is known to be too large).
public enum RequestInputs {
    /// The media type of a `Content-Type` value, lower-cased and without parameters.
    public static func mediaType(_ contentType: String) -> String {
        String(contentType.prefix { $0 != ";" }).trimmingSpaces().lowercased()
    }

    /// The bytes of a JSON body within `limit`; 415 unless the content type is JSON (or absent).
    public static func jsonBytes(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let contentType = request.headers[.contentType] {
            let media = mediaType(contentType)
            guard media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json")) else {
                throw HTTPProblem.unsupportedMediaType("application/json")
            }
        }
        return try await collectBody(request, limit: limit)
    }

    /// A JSON body within `limit`, parsed (malformed JSON is 422 `json_invalid`).
    public static func readJSON(_ request: Request, limit: Int) async throws -> JSONValue {
        let buffer = try await jsonBytes(request, limit: limit)
        return try JSONValue.parse(buffer.readableBytesView)
    }

    /// The body as bytes, refused with 413 as soon as it is known to exceed `limit`.
    public static func collectBody(_ request: Request, limit: Int) async throws -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw HTTPProblem.contentTooLarge
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw HTTPProblem.contentTooLarge
        }
    }
}
