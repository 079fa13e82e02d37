package arena

// MaxHeader bounds the header that travels with a file (SendFile).
const MaxHeader = 64 << 10
