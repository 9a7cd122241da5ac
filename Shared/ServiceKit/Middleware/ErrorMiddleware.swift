import CurlHTTP
import Foundation
import Hummingbird
import Logging

/// The one place errors become responses, in FastAPI's shapes: `{"detail": "..."}` for HTTP
/// errors, `{"detail": [issues]}` for 422. Unknown errors are logged with their cause and answer
/// 500 with nothing internal in the body; a path that exists under other methods answers 405.
public struct ErrorMiddleware: RouterMiddleware {
    public typealias Context = FleetContext
    let routes: RouteTable

    /// `routes` tells a wrong method (405) from an unknown path (404).
    public init(routes: RouteTable) {
        self.routes = routes
    }

    public func handle(_ request: Request, context: FleetContext, next: (Request, FleetContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let response = render(error, request: request, context: context)
            // A rendered error's body is in memory: it can be recorded as soon as it is returned.
            context.inMemoryBody?.set()
            return response
        }
    }

    private func render(_ error: any Error, request: Request, context: FleetContext) -> Response {
        switch error {
        case let problem as HTTPProblem:
            return Self.render(problem)
        case let failure as ValidationFailure:
            return Self.json(status: .unprocessableContent, body: ValidationBody(detail: failure.issues))
        case let error as HTTPError:
            if error.status == .notFound, context.endpointPath == nil || context.endpointPath == Self.unmatchedRoute {
                let allowed = routes.methods(matching: request.uri.path)
                if !allowed.isEmpty {
                    let allow = allowed.map(\.rawValue).joined(separator: ", ")
                    return Self.render(HTTPProblem(.methodNotAllowed, detail: "Method Not Allowed", headers: [.allow: allow]))
                }
                return Self.render(HTTPProblem(.notFound, detail: "Not Found"))
            }
            if error.status == .contentTooLarge {
                return Self.render(HTTPProblem.contentTooLarge)
            }
            return Self.render(HTTPProblem(error.status, detail: error.body ?? error.status.reasonPhrase, headers: error.headers))
        case let error as CurlHTTPError:
            // A peer that failed is the gateway's problem to report, not an internal error.
            context.logger.warning("peer call failed", metadata: ["error": .string(error.description), "error_type": .string(error.kind)])
            return Self.render(Self.problem(for: error))
        case let error as any HTTPResponseError where error.status.code < 500:
            return Self.render(HTTPProblem(error.status))
        default:
            context.logger.error("unhandled error", metadata: [
                "error": .string(String(describing: error)), "error_type": .string(String(reflecting: type(of: error))),
            ])
            return Self.render(HTTPProblem(.internalServerError, detail: "Internal Server Error"))
        }
    }

    /// 504 when a peer ran out of time, 503 when it cannot be reached or its circuit is open,
    /// 502 when it answered something unusable.
    static func problem(for error: CurlHTTPError) -> HTTPProblem {
        switch error {
        case .timeout, .connectTimeout: HTTPProblem(.gatewayTimeout, detail: "Upstream service timed out")
        case .connectionRefused, .circuitOpen, .dnsFailure, .shutdown: HTTPProblem(.serviceUnavailable, detail: "Upstream service unavailable")
        default: HTTPProblem(.badGateway, detail: "Upstream service failed")
        }
    }

    /// The route name Hummingbird's not-found responder records for paths that match no route.
    static let unmatchedRoute = "NotFound"

    struct DetailBody: Encodable { let detail: String }
    struct ValidationBody: Encodable { let detail: [ValidationIssue] }

    static func render(_ problem: HTTPProblem) -> Response {
        var response = json(status: problem.status, body: DetailBody(detail: problem.detail))
        response.headers.append(contentsOf: problem.headers)
        if problem.status == .contentTooLarge {
            // The rest of an oversize body is not worth reading: close instead of draining it.
            response.headers[.connection] = "close"
        }
        return response
    }

    static func json(status: HTTPResponse.Status, body: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data(#"{"detail":"Internal Server Error"}"#.utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
