enum ParleyCodecPlaceholder {}
