import Foundation
import Hummingbird
import Synchronization

/// Script and style URLs of the documentation pages; FastAPI's CDN defaults, overridable for
/// clusters without internet access.
public struct DocsAssets: Sendable, Equatable {
    public var swaggerJS: String
    public var swaggerCSS: String
    public var redocJS: String

    public init(
        swaggerJS: String = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js",
        swaggerCSS: String = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css",
        redocJS: String = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"
    ) {
        self.swaggerJS = swaggerJS
        self.swaggerCSS = swaggerCSS
        self.redocJS = redocJS
    }

    /// The CDN defaults.
    public static let `default` = DocsAssets()
}

/// `GET /openapi.json`, `/docs` (Swagger UI) and `/redoc` (ReDoc) on the API port. The document is
/// built once, on first request, when every route has been declared.
enum DocsRoutes {
    static func register(_ router: APIRouter, title: String, version: String, assets: DocsAssets, compose: DocumentComposer? = nil) {
        let table = router.table
        let document = LazyDocument { try OpenAPIDocument.encode(OpenAPIDocument.make(title: title, version: version, routes: table)) }
        router.on(.get, "/openapi.json") { _, _ in
            var bytes = try document.bytes()
            if let compose { bytes = try await compose(bytes) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        let swagger = """
            <!DOCTYPE html>
            <html><head><title>\(escape(title)) - Swagger UI</title>
            <link rel="stylesheet" href="\(escape(assets.swaggerCSS))"></head>
            <body><div id="swagger-ui"></div>
            <script src="\(escape(assets.swaggerJS))"></script>
            <script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});</script>
            </body></html>
            """
        router.on(.get, "/docs") { _, _ in html(swagger) }
        let redoc = """
            <!DOCTYPE html>
            <html><head><title>\(escape(title)) - ReDoc</title><meta charset="utf-8"></head>
            <body><redoc spec-url="/openapi.json"></redoc>
            <script src="\(escape(assets.redocJS))"></script>
            </body></html>
            """
        router.on(.get, "/redoc") { _, _ in html(redoc) }
    }

    static func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// The encoded document, built by the first request that needs it. It is built outside the lock:
/// a request for the document never holds a lock that other requests (or threads) wait on while
/// OpenAPIKit encodes. Two first requests at once may both build it; they build the same bytes
/// and the first kept wins.
final class LazyDocument: Sendable {
    private let build: @Sendable () throws -> Data
    private let cached = Mutex<Data?>(nil)

    init(_ build: @escaping @Sendable () throws -> Data) { self.build = build }

    func bytes() throws -> Data {
        if let ready = cached.withLock({ $0 }) { return ready }
        let data = try build()
        return cached.withLock { cached in
            if let cached { return cached }
            cached = data
            return data
        }
    }
}
