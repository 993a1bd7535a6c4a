enum ParleyProtocolPlaceholder {}
