import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import ServiceKit

/// `/users/*`, `/items/*`, `/orders/*` and `/token`, passed to their service through CurlHTTP:
/// method, path, query, headers (less hop-by-hop ones), body and status, with both bodies
/// streamed (never held whole in memory). The gateway's trace continues in the call
/// (`traceparent` is the gateway's span, not the client's), `X-Request-ID` is forwarded, and
/// `X-Forwarded-For`/`-Proto`/`-Host` say who asked. A failed or late service answers 502 or 504
/// in the `{"detail"}` shape. Only idempotent requests, or those with an `Idempotency-Key`, are
/// retried, and only when their body can be sent again (a streamed one cannot).
struct ProxyRoutes: Sendable {
    let fleet: FleetCalls

    /// Headers that describe one connection, not the message (RFC 9110 §7.6.1), and those the
    /// client recomputes.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "expect",
    ]
    /// Replaced by the gateway's own (its span, its request id), which CurlHTTP injects.
    static let replaced: Set<String> = ["traceparent", "tracestate", "x-request-id"]
    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]

    func register(_ api: APIRouter) {
        let routes: [(String, PeerClient)] = [
            ("/users", fleet.users), ("/users/**", fleet.users), ("/token", fleet.users),
            ("/items", fleet.catalog), ("/items/**", fleet.catalog),
            ("/orders", fleet.orders), ("/orders/**", fleet.orders),
        ]
        let timeout = fleet.settings.proxyTimeout
        for (path, peer) in routes {
            for method in Self.methods {
                api.on(method, path) { request, context in
                    try await Self.forward(request, context: context, to: peer, timeout: timeout)
                }
            }
        }
    }

    static func forward(_ request: Request, context: FleetContext, to peer: PeerClient, timeout: Duration) async throws -> Response {
        let headers = outboundHeaders(request, client: context.connection?.remoteAddress?.ipAddress)
        let target = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        var outbound = peer.request(request.method, target, headers: headers, body: try await body(of: request, headers: headers))
        outbound.timeout = timeout
        // The client's Accept-Encoding (or none) decides the encoding, and its bytes pass as sent.
        outbound.decodesContent = false
        let answer: ClientResponse
        do {
            answer = try await peer.execute(outbound)
        } catch let error as CurlHTTPError {
            if FleetCalls.isLate(error) { throw HTTPProblem(.gatewayTimeout, "\(peer.name) did not answer in time") }
            throw HTTPProblem(.badGateway, "\(peer.name) is unavailable")
        }
        let named = connectionNamed(answer.headers)
        var fields = HTTPFields()
        for field in answer.headers where (!hopByHop.contains(field.name.canonicalName) || field.name == .contentLength) && !named.contains(field.name.canonicalName) {
            fields.append(field)
        }
        return Response(status: answer.status, headers: fields, body: ResponseBody(asyncSequence: answer.body))
    }

    /// The headers a message's `Connection` names: hop-by-hop too (RFC 9110 §7.6.1).
    static func connectionNamed(_ headers: HTTPFields) -> Set<String> {
        Set(headers[values: .connection].flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
    }

    /// The request's headers less hop-by-hop ones (and those its `Connection` names), with
    /// `X-Forwarded-*` added.
    static func outboundHeaders(_ request: Request, client: String?) -> HTTPFields {
        let named = connectionNamed(request.headers)
        var headers = HTTPFields()
        for field in request.headers {
            let name = field.name.canonicalName
            guard !hopByHop.contains(name), !replaced.contains(name), !named.contains(name), !name.hasPrefix("x-forwarded-") else { continue }
            headers.append(field)
        }
        let forwardedFor = HTTPField.Name("X-Forwarded-For")!
        let prior = request.headers[forwardedFor]
        if let client { headers[forwardedFor] = prior.map { "\($0), \(client)" } ?? client } else if let prior { headers[forwardedFor] = prior }
        headers[HTTPField.Name("X-Forwarded-Proto")!] = request.headers[HTTPField.Name("X-Forwarded-Proto")!] ?? "http"
        if let host = request.headers[HTTPField.Name("X-Forwarded-Host")!] ?? request.head.authority {
            headers[HTTPField.Name("X-Forwarded-Host")!] = host
        }
        return headers
    }

    /// The body to send: none for a request without one; a request that may be retried (an
    /// idempotent method or an `Idempotency-Key`) and is small is read into memory so a retry can
    /// send it again; any other streams as it arrives.
    static func body(of request: Request, headers: HTTPFields) async throws -> ClientRequest.Body? {
        let length = request.headers[.contentLength].flatMap { Int64($0) }
        let chunked = request.headers[.transferEncoding]?.lowercased().contains("chunked") == true
        guard chunked || (length ?? 0) > 0 else { return nil }
        let probe = ClientRequest(method: request.method, url: "", headers: headers)
        if probe.isIdempotent, let length, length <= 1 << 20 {
            return .bytes(try await request.body.collect(upTo: Int(length)))
        }
        return .stream(request.body, length: length)
    }
}
