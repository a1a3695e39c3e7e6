public enum StateBrowser {}
