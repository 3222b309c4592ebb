DROP TABLE backchannel_logouts;
