enum ParleyCryptoPlaceholder {}
