import HTTPTypes
import HummingbirdWebSocket
import Logging

/// A WebSocket endpoint a service declares (`ServiceDefinition.webSockets`): a `GET` to `path`
/// with an upgrade request is switched to the WebSocket protocol and handed to `handler` with
/// the request (its query, headers) and the two halves of the connection. Servers of services
/// that declare one ping every 30 s (a peer that does not answer is closed) and take frames of at
/// most 16 KiB. Other requests to the port are answered by the API router as usual.
public struct WebSocketRoute: Sendable {
    /// What a WebSocket route runs once the connection is upgraded.
    public typealias Handler = @Sendable (HTTPRequest, WebSocketInboundStream, WebSocketOutboundWriter, Logger) async throws -> Void

    /// The exact path, without query.
    public let path: String
    let handler: Handler

    /// A WebSocket endpoint at `path`.
    public init(_ path: String, handler: @escaping Handler) {
        self.path = path
        self.handler = handler
    }

    /// The path of `request` without its query.
    static func path(of request: HTTPRequest) -> Substring {
        let target = request.path ?? ""
        return target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }
}
