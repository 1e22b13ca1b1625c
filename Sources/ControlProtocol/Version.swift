public enum ControlProtocolVersion { public static let current = 1 }
