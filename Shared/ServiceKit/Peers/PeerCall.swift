import CurlHTTP
import Foundation
import HTTPTypes
import NIOCore

/// A peer answered a typed call with a status other than the endpoint's success: the status and
/// its `detail`, for the caller to map to its own answer (a 409 from catalog's reserve is "out of
/// stock" to orders). Left unhandled, it is a 502: the caller could not do its work.
public struct PeerAnswerError: Error, Sendable, CustomStringConvertible {
    /// The peer's name.
    public let peer: String
    /// The status it answered.
    public let status: HTTPResponse.Status
    /// Its `{"detail": "..."}` when it was a string.
    public let detail: String?

    public var description: String { "\(peer) answered \(status.code)\(detail.map { ": \($0)" } ?? "")" }
}

extension PeerClient {
    /// Calls `endpoint` with `path` and `body` and decodes its answer, validated as a request body
    /// would be: a bad answer throws `CurlHTTPError.decoding` (a 502 through the caller), another
    /// status `PeerAnswerError`.
    public func call<P, B, O>(_ endpoint: Endpoint<P, B, O>, path: P, body: B, headers: HTTPFields = [:]) async throws -> O {
        var writer = JSONWriter(capacity: 256)
        body.writeJSON(to: &writer)
        let buffer = writer.buffer
        var fields = headers
        fields[.contentType] = "application/json"
        return try await send(endpoint, path: path, headers: fields, body: .bytes(buffer))
    }

    /// Calls a body-less `endpoint` (a `GET`) with `path`.
    public func call<P, O>(_ endpoint: Endpoint<P, NoBody, O>, path: P, headers: HTTPFields = [:]) async throws -> O {
        try await send(endpoint, path: path, headers: headers, body: nil)
    }

    private func send<P, B, O>(_ endpoint: Endpoint<P, B, O>, path: P, headers: HTTPFields, body: ClientRequest.Body?) async throws -> O {
        var fields = headers
        if fields[.accept] == nil { fields[.accept] = "application/json" }
        let response = try await execute(request(endpoint.method, try endpoint.path(for: path), headers: fields, body: body))
        let bytes = try await response.body.collect(upTo: 8 << 20)
        guard response.status == endpoint.status else {
            let detail = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any])?["detail"] as? String
            throw PeerAnswerError(peer: name, status: response.status, detail: detail)
        }
        do {
            let value = try JSONParser.parse(bytes.readableBytesView)
            return try O.validate(value, at: ["response"])
        } catch {
            throw CurlHTTPError.undecodable("\(name) \(endpoint.method.rawValue) \(endpoint.path): \(error)")
        }
    }
}
