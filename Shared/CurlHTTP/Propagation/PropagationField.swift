import HTTPTypes

/// `X-Request-ID`, which swift-http-types does not name (it does name `traceparent`/`tracestate`);
/// internal to CurlHTTP so that it does not collide with ServiceKit's public constant.
enum PropagationField {
    static let requestID = HTTPField.Name("X-Request-ID")!
}
