DROP TABLE certificate_warnings;
