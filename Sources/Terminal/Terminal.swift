public enum Terminal {}
