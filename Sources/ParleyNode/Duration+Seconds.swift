extension Duration {
    /// The duration in seconds, with its fraction: the unit of the configuration file and of `Date`
    /// arithmetic.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
