public enum StateConfigPlaceholder {}
