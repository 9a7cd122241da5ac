import Hummingbird

/// A route group's own body limits, in place of `MAX_BODY_BYTES` and `MAX_UPLOAD_BYTES`:
/// `api.group("/imports", middleware: [BodyLimitMiddleware<FleetContext>(maxBodyBytes: 20 << 20)])`.
/// Bodies are read against the limits in the context, so a route's own limit holds for every
/// input (`Body`, `Form`, `Multipart`). A gzip body's decoded size stays capped by the
/// service-wide limit as well, which the decoding checks before the group is reached.
public struct BodyLimitMiddleware<Context: ServiceRequestContext>: RouterMiddleware {
    let maxBodyBytes: Int?
    let maxUploadBytes: Int?

    /// The limits to set; nil keeps the service's.
    public init(maxBodyBytes: Int? = nil, maxUploadBytes: Int? = nil) {
        self.maxBodyBytes = maxBodyBytes
        self.maxUploadBytes = maxUploadBytes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let maxBodyBytes { context.limits.maxBodyBytes = maxBodyBytes }
        if let maxUploadBytes { context.limits.maxUploadBytes = maxUploadBytes }
        return try await next(request, context)
    }
}
