import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird

/// The peers a service declared (`ServiceDefinition.peers`), each at the URL its `<NAME>_URL`
/// variable gave, all called through the service's one CurlHTTP client. Routes take one with
/// `Depends<Peer<Catalog>>` (typed) or `Depends<Peers>` and `peers.peer("catalog")`.
public struct Peers: Injectable {
    /// The client every peer call goes through; a `Service` in the runtime's group.
    public let client: CurlClient
    /// Base URLs by peer name.
    public let urls: [String: URL]

    /// Peers at `urls`, called through `client`.
    public init(client: CurlClient, urls: [String: URL]) {
        self.client = client
        self.urls = urls
    }

    /// The peer called `name`; 503 when the service was started without its URL.
    public func peer(_ name: String) throws -> PeerClient {
        guard let url = urls[name] else {
            throw HTTPProblem(.serviceUnavailable, detail: "\(name) is not configured")
        }
        return PeerClient(name: name, baseURL: url.absoluteString, client: client)
    }
}

/// One peer: paths are relative to its base URL and every call is counted and broken under its name.
/// Calls made inside a request carry its trace, request id and remaining time budget.
public struct PeerClient: Sendable {
    /// The peer's name, as in metrics (`peer="catalog"`) and in `degraded` lists.
    public let name: String
    /// Its base URL, without a trailing slash.
    public let baseURL: String
    /// The shared client.
    public let client: CurlClient

    /// A peer at `baseURL`, named `name`.
    public init(name: String, baseURL: String, client: CurlClient) {
        self.name = name
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.client = client
    }

    /// A request for `path` on this peer.
    public func request(_ method: HTTPRequest.Method = .get, _ path: String, headers: HTTPFields = [:], body: ClientRequest.Body? = nil) -> ClientRequest {
        var request = ClientRequest(method: method, url: baseURL + path, headers: headers, body: body, peer: name)
        // Inside the fleet, compressing costs more CPU on both sides than it saves on the wire:
        // a peer call asks for no encoding (the peer's CompressionMiddleware then sends it plain).
        request.decodesContent = false
        return request
    }

    /// Sends a request; the response body streams.
    public func execute(_ request: ClientRequest) async throws -> ClientResponse {
        try await client.execute(request)
    }

    /// GETs `path` and decodes its JSON; a non-2xx answer throws `CurlHTTPError` with its status.
    public func get<Response: Decodable>(_ path: String, as type: Response.Type = Response.self, headers: HTTPFields = [:]) async throws -> Response {
        try await client.json(type, for: request(.get, path, headers: headers))
    }

    /// Sends `body` as JSON and decodes the JSON answer.
    public func send<Body: Encodable, Response: Decodable>(
        _ method: HTTPRequest.Method, _ path: String, json body: Body, as type: Response.Type = Response.self, headers: HTTPFields = [:]
    ) async throws -> Response {
        try await client.json(type, for: request(method, path, headers: headers, body: try .json(body)))
    }
}
