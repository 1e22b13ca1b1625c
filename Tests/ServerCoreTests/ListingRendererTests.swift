import XCTest

@testable import ServerCore

/// The directory listing page (compat 3.2): absolute hrefs built from the request path, a `/`
/// after directory names in the link text only, and escaping of names and the path.
final class ListingRendererTests: XCTestCase {
    let listing = DirectoryListing(entries: [
        .init(name: "sample.txt", isDirectory: false, size: 1242, mtime: 1_000_000_000),
        .init(name: "test", isDirectory: true, size: 0, mtime: 0),
        .init(name: "cat.jpg", isDirectory: false, size: 156145, mtime: 0),
    ])

    func links(_ html: String) -> [(href: String, text: String)] {
        html.components(separatedBy: "<a href='").dropFirst().map { chunk in
            let href = chunk.prefix { $0 != "'" }
            let text = chunk.drop { $0 != ">" }.dropFirst().prefix { $0 != "<" }
            return (String(href), String(text))
        }
    }

    func testRootHrefsAreAbsolute() {
        let html = ListingRenderer.html(pathname: "/", listing: listing)
        XCTAssertEqual(links(html).map(\.href), ["/cat.jpg", "/sample.txt", "/test"], "sorted by name")
    }

    func testSubdirectoryHrefsWithAndWithoutSlash() {
        for path in ["/test", "/test/"] {
            let html = ListingRenderer.html(pathname: path, listing: listing)
            XCTAssertEqual(links(html).map(\.href), ["/test/cat.jpg", "/test/sample.txt", "/test/test"], path)
        }
    }

    func testDirectoryLinkTextEndsInSlashButHrefDoesNot() {
        let html = ListingRenderer.html(pathname: "/", listing: listing)
        let dir = links(html).first { $0.href == "/test" }
        XCTAssertEqual(dir?.text, "test/")
        XCTAssertEqual(links(html).first { $0.href == "/cat.jpg" }?.text, "cat.jpg")
        XCTAssertTrue(html.contains("<tr><td><a href='/test'>test/</a></td>"))
    }

    func testPageStructure() {
        let html = ListingRenderer.html(pathname: "/test", listing: listing)
        XCTAssertTrue(html.contains("<title>Directory: /test</title>"))
        XCTAssertTrue(html.contains("<h1>eXpServer</h1>"))
        XCTAssertTrue(html.contains("<h3>Index of&nbsp;/test</h3>"))
        XCTAssertTrue(html.contains("<table>"))
        XCTAssertTrue(html.hasSuffix("</table></body></html>\n"))
        XCTAssertEqual(html.components(separatedBy: "<tr>").count - 1, 3)
        XCTAssertTrue(html.contains("1.21KB"), "size cell")
        XCTAssertTrue(html.contains("2001-09-09 01:46:40"), "mtime cell")
    }

    func testNamesAreEscapedAndEncoded() {
        let odd = DirectoryListing(entries: [
            .init(name: "<x>.txt", isDirectory: false, size: 1, mtime: 0),
            .init(name: "a b.txt", isDirectory: false, size: 1, mtime: 0),
            .init(name: "it's&\"q\".txt", isDirectory: false, size: 1, mtime: 0),
            .init(name: "café", isDirectory: true, size: 0, mtime: 0),
        ])
        let html = ListingRenderer.html(pathname: "/", listing: odd)
        let l = links(html)
        XCTAssertEqual(l.map(\.href), ["/%3Cx%3E.txt", "/a%20b.txt", "/caf%C3%A9", "/it%27s%26%22q%22.txt"])
        XCTAssertEqual(l.map(\.text), ["&lt;x&gt;.txt", "a b.txt", "café/", "it&#39;s&amp;&quot;q&quot;.txt"])
        XCTAssertFalse(html.contains("<x>"))
    }

    func testPathIsEscapedInTitleAndEncodedInHrefs() {
        let html = ListingRenderer.html(pathname: "/<d> e/", listing: DirectoryListing(entries: [
            .init(name: "f.txt", isDirectory: false, size: 1, mtime: 0),
        ]))
        XCTAssertTrue(html.contains("Index of&nbsp;/&lt;d&gt; e/"))
        XCTAssertTrue(html.contains("<title>Directory: /&lt;d&gt; e/</title>"))
        XCTAssertEqual(links(html).map(\.href), ["/%3Cd%3E%20e/f.txt"])
    }

    func testEmptyDirectory() {
        let html = ListingRenderer.html(pathname: "/empty/", listing: DirectoryListing(entries: []))
        XCTAssertTrue(links(html).isEmpty)
        XCTAssertTrue(html.contains("Index of&nbsp;/empty/"))
    }

    func testSizeFormatting() {
        XCTAssertEqual(ListingRenderer.formatKB(0), "0.00KB")
        XCTAssertEqual(ListingRenderer.formatKB(1024), "1.00KB")
        XCTAssertEqual(ListingRenderer.formatKB(1242), "1.21KB")
        XCTAssertEqual(ListingRenderer.formatKB(156145), "152.49KB")
        XCTAssertEqual(ListingRenderer.formatKB(10), "0.01KB")
    }
}
