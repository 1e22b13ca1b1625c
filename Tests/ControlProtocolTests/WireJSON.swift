import Foundation
import XCTest

/// Encodes and decodes values the way a client on the other end of the socket would see them.
enum WireJSON {
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return try e.encode(value)
    }

    /// The top-level object of `data` as a dictionary (what a script in another language gets).
    static func object(_ data: Data, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let any = try JSONSerialization.jsonObject(with: data)
        return try XCTUnwrap(any as? [String: Any], "not a JSON object: \(String(decoding: data, as: UTF8.self))", file: file, line: line)
    }

    /// Encodes, checks the key set, decodes, and checks the value survived the trip.
    static func assertRoundTrip<T: Codable & Equatable>(
        _ value: T, keys: Set<String>, file: StaticString = #filePath, line: UInt = #line
    ) throws -> [String: Any] {
        let data = try encode(value)
        let object = try object(data, file: file, line: line)
        XCTAssertEqual(Set(object.keys), keys, String(decoding: data, as: UTF8.self), file: file, line: line)
        XCTAssertEqual(try JSONDecoder().decode(T.self, from: data), value, file: file, line: line)
        return object
    }
}
