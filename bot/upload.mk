# bot/upload.mk: the summary-PDF upload into chat threads (bot/upload.c), part of opsbot-bot.
BOT_SRCS += bot/upload.c
