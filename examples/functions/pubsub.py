"""Pub/sub: the publisher delivers one SNS-shaped notification to each subscriber asynchronously."""

import json
import logging
import os
import time
import uuid

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)
_lambda = None


def publisher(event, context):
    global _lambda
    _lambda = _lambda or boto3.client("lambda")
    topic = event.get("topic", "orders")
    arn = f"arn:aws:sns:us-east-1:000000000000:{topic}"
    subscribers = [s for s in os.environ.get("SUBSCRIBERS", "").split(",") if s]
    notification = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": arn,
                    "Subject": event.get("subject"),
                    "Message": json.dumps(event.get("message", {})),
                    "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                    "MessageAttributes": {},
                },
            }
        ]
    }
    for name in subscribers:
        _lambda.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(notification))
    logger.info("published to %s: %d subscribers", topic, len(subscribers))
    return {"subscribers": len(subscribers)}


def email_subscriber(event, context):
    for record in event["Records"]:
        message = json.loads(record["Sns"]["Message"])
        print(
            f"sending email for order {message.get('order', '?')} to {message.get('email', 'nobody')}"
        )


def audit_subscriber(event, context):
    for record in event["Records"]:
        logger.info("audit: %s %s", record["Sns"]["TopicArn"], record["Sns"]["Message"])
