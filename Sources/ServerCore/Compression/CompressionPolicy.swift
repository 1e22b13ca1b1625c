/// Whether a static file's response should be gzipped: the one decision, pure.
///
/// All must hold (eXpServer's rules, compat 4.2, made correct for HTTP):
/// 1. the route has `gzip_enable: true`;
/// 2. the client accepts gzip (`AcceptEncoding`: q-values, `*`);
/// 3. the file's type is in the built-in compressible list or the route's `gzip_mime_types`
///    (a file of unknown type never is);
/// 4. the body is at least `gzip_min_length` bytes (tiny bodies grow when compressed);
/// 5. the request is not a Range request (ranges are served from the identity variant) and does
///    not say `Cache-Control: no-transform`.
/// `varies` tells whether the answer depends on `Accept-Encoding` at all (then every variant
/// carries `Vary: Accept-Encoding`).
public struct CompressionPolicy: Sendable, Equatable {
    public static let builtInTypes: Set<String> = [
        "text/html", "text/css", "text/plain", "text/xml", "text/x-component", "text/javascript",
        "application/x-javascript", "application/javascript", "application/json", "application/xml",
        "application/xhtml+xml", "application/rss+xml", "application/atom+xml", "application/vnd.ms-fontobject",
        "application/x-font-ttf", "application/x-font-opentype", "application/x-font-truetype", "image/svg+xml",
        "image/x-icon", "font/ttf", "font/eot", "font/otf", "font/opentype",
    ]

    public let enabled: Bool
    public let types: Set<String>
    public let minLength: Int

    public init(enabled: Bool, extraTypes: [String] = [], minLength: Int = 256) {
        self.enabled = enabled
        types = Self.builtInTypes.union(extraTypes)
        self.minLength = minLength
    }

    public func varies(contentType: String, size: Int) -> Bool {
        enabled && types.contains(contentType) && size >= minLength
    }

    public func shouldCompress(contentType: String, size: Int, acceptEncoding: String?, isRange: Bool, cacheControl: String?) -> Bool {
        guard varies(contentType: contentType, size: size), !isRange, Self.transformable(cacheControl) else { return false }
        return AcceptEncoding.acceptsGzip(acceptEncoding)
    }

    /// A `Cache-Control` value (all its lines joined) that does not say `no-transform`.
    public static func transformable(_ cacheControl: String?) -> Bool {
        !(cacheControl?.lowercased().contains("no-transform") ?? false)
    }
}
