import Foundation
import XCTest

/// The built `expserverd` and `expctl`: next to the test bundle in the products directory.
enum Binaries {
    static let directory: URL? = {
        let fm = FileManager.default
        let starts = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])]
            + Bundle.allBundles.map(\.bundleURL)
        for start in starts {
            var dir = start.standardizedFileURL
            while dir.path != "/" {
                if fm.isExecutableFile(atPath: dir.appendingPathComponent("expserverd").path),
                    fm.isExecutableFile(atPath: dir.appendingPathComponent("expctl").path)
                {
                    return dir
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return nil
    }()

    static func url(_ name: String) throws -> URL {
        guard let dir = directory else {
            throw XCTSkip("cannot find the built expserverd/expctl near \(Bundle.main.bundleURL.path); build the package first")
        }
        return dir.appendingPathComponent(name)
    }
}
