// Replaced by real tests as the module grows; an empty test target would not build.
