import NIOHTTP1

/// What a request head says about its body, from one pass over its fields: its length, a
/// transfer coding, and whether the client waits for `100 Continue` before sending it (HTTP/1.1
/// with `Expect: 100-continue` and a body, RFC 9110 §10.1.1).
struct BodyAnnouncement {
    var length: Int?
    var transferCoded = false
    var expectsContinue = false

    init(_ head: HTTPRequestHead) {
        var expect = false
        for (name, value) in head.headers {
            switch name.utf8.count {
            case 6 where HeaderName.equals(Substring(name), "expect"):
                expect = expect || value.trimmingSpaces().lowercased() == "100-continue"
            case 14, 17:
                switch HeaderName.kind(Substring(name)) {
                case .contentLength: length = length ?? Int(value)
                case .transferEncoding: transferCoded = true
                default: break
                }
            default:
                break
            }
        }
        expectsContinue = expect && head.version.minor >= 1 && hasBody
    }

    /// A body follows the head (chunked, or a length above 0).
    var hasBody: Bool { transferCoded || (length ?? 0) > 0 }
}
