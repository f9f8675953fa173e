-- day_new_sessions for members: how many of the day's kept members (day_summary_ids) the day holds, and the
-- others, each as (key, member_type, member): sipHash128(member_type, member) is how members are kept.
SELECT
    toUInt64(uniqExactIf(member_key, kept)) AS kept_ids,
    groupUniqArrayIf((member_key, member_type, member), NOT kept) AS new_members
FROM
(
    SELECT
        toString(member_type) AS member_type,
        member,
        reinterpretAsUInt128(sipHash128(member_type, member)) AS member_key,
        member_key GLOBAL IN
        (
            -- include: day_kept_keys
        ) AS kept
    FROM member_daily
    WHERE day = {day:Date}
      AND ({organization_id:String} = '' OR organization_id = {organization_id:String})
)
