import CurlHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// The one place errors become responses, in FastAPI's shapes: `{"detail": "..."}` for HTTP
/// errors, `{"detail": [issues]}` for 422. Unknown errors are logged with their cause and answer
/// 500 with nothing internal in the body; a path that exists under other methods answers 405.
public struct ErrorMiddleware<Context: ServiceRequestContext>: RouterMiddleware {
    let routes: RouteTable

    /// `routes` tells a wrong method (405) from an unknown path (404).
    public init(routes: RouteTable) {
        self.routes = routes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var response = render(error, request: request, context: context)
            // A rendered error's body is in memory: it can be recorded as soon as it is returned.
            context.recording.markBodyInMemory()
            if response.headers[.connection] == "close", let connection = context.connection {
                // A 413 (or another refusal made while the body was arriving) ends the exchange.
                // Hummingbird would read and discard the rest of the body for as long as the
                // client sends it, or, for a request that said `Connection: close`, stop reading
                // and leave a client that writes its whole body first blocked. Once the answer's
                // bytes are handed to the connection, its output is shut (the client reads the
                // answer, then end of stream) and the connection is closed a moment later.
                response.body = response.body.afterWrite {
                    let loop = connection.eventLoop
                    // Queued behind the answer's own writes on the connection's event loop.
                    loop.execute {
                        connection.close(mode: .output, promise: nil)
                        loop.scheduleTask(in: .milliseconds(250)) { connection.close(promise: nil) }
                    }
                }
            }
            return response
        }
    }

    private func render(_ error: any Error, request: Request, context: Context) -> Response {
        switch error {
        case let problem as HTTPProblem:
            return ProblemResponse.render(problem)
        case let failure as ValidationFailure:
            return ProblemResponse.render(failure)
        case let error as HTTPError:
            if error.status == .notFound, context.endpointPath == nil || context.endpointPath == UnmatchedRoute.name {
                let allowed = routes.methods(matching: request.uri.path)
                if !allowed.isEmpty {
                    let allow = allowed.map(\.rawValue).joined(separator: ", ")
                    return ProblemResponse.render(HTTPProblem(.methodNotAllowed, detail: "Method Not Allowed", headers: [.allow: allow]))
                }
                return ProblemResponse.render(HTTPProblem(.notFound, detail: "Not Found"))
            }
            if error.status == .contentTooLarge {
                return ProblemResponse.render(HTTPProblem.contentTooLarge)
            }
            return ProblemResponse.render(HTTPProblem(error.status, detail: error.body ?? error.status.reasonPhrase, headers: error.headers))
        case let error as PeerAnswerError:
            // A typed call whose answer the caller did not handle: it could not do its work.
            context.logger.warning("peer answered an unexpected status", metadata: ["error": .string(error.description)])
            return ProblemResponse.render(HTTPProblem(.badGateway, detail: "Upstream service failed"))
        case let error as CurlHTTPError:
            // A peer that failed is the gateway's problem to report, not an internal error.
            context.logger.warning("peer call failed", metadata: ["error": .string(error.description), "error_type": .string(error.kind)])
            return ProblemResponse.render(ProblemResponse.problem(for: error))
        case is HTTPParserError:
            // The request itself broke off or is malformed (a body shorter than its
            // Content-Length, then end of stream): the client's fault, not ours.
            return ProblemResponse.render(HTTPProblem(.badRequest, "Malformed or incomplete HTTP request"))
        case let error as ChannelError where [.eof, .inputClosed, .ioOnClosedChannel].contains(error):
            return ProblemResponse.render(HTTPProblem(.badRequest, "Incomplete HTTP request"))
        case let error as any HTTPResponseError where error.status.code < 500:
            return ProblemResponse.render(HTTPProblem(error.status))
        default:
            context.logger.error("unhandled error", metadata: [
                "error": .string(String(describing: error)), "error_type": .string(String(reflecting: type(of: error))),
            ])
            return ProblemResponse.render(HTTPProblem(.internalServerError, detail: "Internal Server Error"))
        }
    }
}
