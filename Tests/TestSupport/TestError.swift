/// A test helper's failure, with what went wrong.
public struct TestError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
