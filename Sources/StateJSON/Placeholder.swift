public enum StateJSONPlaceholder {}
