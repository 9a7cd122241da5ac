import Foundation
import Hummingbird

/// JSON responses, all written by `JSONWriter`: models write themselves; any other `Encodable`
/// goes through `JSONValueEncoder` first.
public enum JSONResponse {
    /// A JSON response of `value` with `status` and any extra headers.
    public static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var writer = JSONWriter()
        writer.value(try JSONValueEncoder.encode(value))
        var response = make(buffer: writer.buffer, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }

    /// A JSON response of bytes already written.
    public static func make(buffer: ByteBuffer, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: buffer))
    }
}
