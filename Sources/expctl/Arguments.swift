/// The options every command takes (`GlobalOptions`), accepted before the command too
/// (`expctl --socket S status`, as `git -C DIR status`): the argument parser knows them only
/// after it, so leading ones are moved there (before a `--`, after which everything is an
/// argument).
enum Arguments {
    static func hoistingGlobalOptions(_ args: [String]) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < args.count {
            if args[i] == "--json" || args[i].hasPrefix("--socket=") {
                leading.append(args[i])
                i += 1
            } else if args[i] == "--socket", i + 1 < args.count {
                leading += [args[i], args[i + 1]]
                i += 2
            } else {
                break
            }
        }
        guard !leading.isEmpty, i < args.count else { return args }  // (no command: left to the parser)
        var rest = Array(args[i...])
        rest.insert(contentsOf: leading, at: rest.firstIndex(of: "--") ?? rest.endIndex)
        return rest
    }
}
