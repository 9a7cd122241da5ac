import CurlHTTP
import Hummingbird

/// Errors as FastAPI shapes them, written by the same `JSONWriter` as every model answer:
/// `{"detail": "..."}` for an HTTP error, `{"detail": [issues]}` for a 422.
enum ProblemResponse {
    /// `{"detail": "..."}` with the problem's status and headers; a 413 also says `Connection: close`.
    static func render(_ problem: HTTPProblem) -> Response {
        var writer = JSONWriter(capacity: 64 + problem.detail.utf8.count)
        writer.beginObject()
        writer.field("detail", problem.detail)
        writer.endObject()
        var response = JSONResponse.make(buffer: writer.buffer, status: problem.status)
        response.headers.append(contentsOf: problem.headers)
        if problem.endsConnection || problem.status == .contentTooLarge {
            // The rest of the body is not worth reading: close instead of draining it.
            response.headers[.connection] = "close"
        }
        return response
    }

    /// 422 with every issue.
    static func render(_ failure: ValidationFailure) -> Response {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.key("detail")
        writer.beginArray()
        for issue in failure.issues { issue.writeJSON(to: &writer) }
        writer.endArray()
        writer.endObject()
        return JSONResponse.make(buffer: writer.buffer, status: .unprocessableContent)
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
}

extension ValidationIssue {
    /// `{"type", "loc", "msg", "input", "ctx"?}` in pydantic's order.
    func writeJSON(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("type", type)
        writer.key("loc")
        writer.beginArray()
        for step in loc {
            switch step {
            case .key(let key): writer.string(key)
            case .index(let index): writer.int(index)
            }
        }
        writer.endArray()
        writer.field("msg", msg)
        writer.key("input")
        writer.value(input ?? .null)
        if let ctx {
            writer.key("ctx")
            writer.value(.object(ctx))
        }
        writer.endObject()
    }
}
