module github.com/emfa/emfa/internal/phone/regionsgen

go 1.26

require github.com/nyaruka/phonenumbers v1.8.1

require (
	golang.org/x/text v0.23.0
	google.golang.org/protobuf v1.36.11 // indirect
)
