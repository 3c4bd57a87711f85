"""Initial schema: the warehouse as `metadata.create_all` built it before migrations existed.

Revision ID: 0001
Revises: -
Create Date: 2026-11-30 08:06:01.741551

Frozen once merged: later schema changes get a new revision, never an edit of this one.
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('account_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('domain', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('name_norm', sa.Text(), nullable=True),
    sa.Column('industry', sa.Text(), nullable=True),
    sa.Column('company_size', sa.BigInteger(), nullable=True),
    sa.Column('country', sa.Text(), nullable=True),
    sa.Column('owner_rep', sa.Text(), nullable=True),
    sa.Column('is_customer', sa.Boolean(), nullable=True),
    sa.Column('has_open_deal', sa.Boolean(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('account_id'),
    sa.UniqueConstraint('domain')
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_name_norm'), ['name_norm'], unique=False)

    op.create_table('campaigns',
    sa.Column('campaign_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('channel', sa.Text(), nullable=True),
    sa.Column('first_seen', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('campaign_id')
    )
    op.create_table('erasures',
    sa.Column('email_hash', sa.Text(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('erased_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('email_hash')
    )
    op.create_table('handoffs',
    sa.Column('handoff_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('owner_rep', sa.Text(), nullable=False),
    sa.Column('route_rule', sa.Text(), nullable=False),
    sa.Column('route_reason', sa.JSON(), nullable=True),
    sa.Column('qualified_by', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('grade', sa.Text(), nullable=True),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.Column('priority', sa.Float(), nullable=True),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('run_id', sa.Text(), nullable=True),
    sa.Column('handed_off_at', sa.DateTime(), nullable=False),
    sa.Column('sla_due_at', sa.DateTime(), nullable=True),
    sa.Column('sla_breached', sa.Boolean(), nullable=False),
    sa.Column('first_action_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('handoff_id'),
    sa.UniqueConstraint('person_id', 'cycle', name='uq_handoff_person_cycle')
    )
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index('ix_handoffs_owner', ['owner_rep', 'run_date'], unique=False)

    op.create_table('ingest_batches',
    sa.Column('batch_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('uri', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.Text(), nullable=False),
    sa.Column('rows_in', sa.Integer(), nullable=False),
    sa.Column('rows_landed', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=True),
    sa.Column('watermark', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('batch_id'),
    sa.UniqueConstraint('source', 'content_hash', name='uq_batch_source_hash')
    )
    op.create_table('lifecycle_events',
    sa.Column('event_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('from_stage', sa.Text(), nullable=True),
    sa.Column('to_stage', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('run_id', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('event_id'),
    sa.UniqueConstraint('person_id', 'cycle', 'to_stage', name='uq_lifecycle_step')
    )
    op.create_table('match_reviews',
    sa.Column('review_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_a', sa.Integer(), nullable=False),
    sa.Column('person_b', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('review_id'),
    sa.UniqueConstraint('person_a', 'person_b', name='uq_match_review_pair')
    )
    op.create_table('merges',
    sa.Column('merge_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('survivor_id', sa.Integer(), nullable=False),
    sa.Column('merged_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('run_id', sa.Text(), nullable=True),
    sa.Column('merged_at', sa.DateTime(), nullable=False),
    sa.Column('undone_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('merge_id')
    )
    op.create_table('models',
    sa.Column('version', sa.Text(), nullable=False),
    sa.Column('algorithm', sa.Text(), nullable=False),
    sa.Column('trained_at', sa.DateTime(), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=True),
    sa.Column('window_end', sa.Date(), nullable=True),
    sa.Column('features', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('holdout', sa.JSON(), nullable=True),
    sa.Column('artifact_path', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('version')
    )
    op.create_table('pipeline_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Text(), nullable=False),
    sa.Column('job', sa.Text(), nullable=False),
    sa.Column('task', sa.Text(), nullable=False),
    sa.Column('run_date', sa.Date(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pipeline_runs', schema=None) as batch_op:
        batch_op.create_index('ix_pipeline_runs_run', ['run_id', 'task'], unique=False)

    op.create_table('quarantine',
    sa.Column('quarantine_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('stage', sa.Text(), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_by', sa.Text(), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('quarantine_id'),
    sa.UniqueConstraint('kind', 'batch_id', 'row_number', name='uq_quarantine_row')
    )
    op.create_table('scores',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('score_date', sa.Date(), nullable=False),
    sa.Column('fit_points', sa.Float(), nullable=False),
    sa.Column('grade', sa.Text(), nullable=False),
    sa.Column('engagement_points', sa.Float(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('probability', sa.Float(), nullable=True),
    sa.Column('model_version', sa.Text(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=True),
    sa.Column('run_id', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('person_id', 'score_date', name='pk_scores')
    )
    op.create_table('suppressions',
    sa.Column('suppression_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('run_id', sa.Text(), nullable=True),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('suppression_id'),
    sa.UniqueConstraint('person_id', 'cycle', 'run_date', name='uq_suppression')
    )
    op.create_table('campaign_spend',
    sa.Column('campaign_id', sa.Text(), nullable=False),
    sa.Column('spend_date', sa.Date(), nullable=False),
    sa.Column('amount', sa.Float(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.campaign_id'], ),
    sa.PrimaryKeyConstraint('campaign_id', 'spend_date', name='pk_campaign_spend')
    )
    op.create_table('outcomes',
    sa.Column('outcome_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('source_outcome_id', sa.Text(), nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('reason_code', sa.Text(), nullable=True),
    sa.Column('selling_step', sa.Text(), nullable=True),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('row_number', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.handoff_id'], ),
    sa.PrimaryKeyConstraint('outcome_id'),
    sa.UniqueConstraint('source', 'source_outcome_id', name='uq_outcome_source_id')
    )
    op.create_table('people',
    sa.Column('person_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('email_norm', sa.Text(), nullable=True),
    sa.Column('source_key', sa.Text(), nullable=True),
    sa.Column('first_name', sa.Text(), nullable=True),
    sa.Column('last_name', sa.Text(), nullable=True),
    sa.Column('phone_e164', sa.Text(), nullable=True),
    sa.Column('company', sa.Text(), nullable=True),
    sa.Column('company_norm', sa.Text(), nullable=True),
    sa.Column('job_title', sa.Text(), nullable=True),
    sa.Column('seniority', sa.Text(), nullable=True),
    sa.Column('job_function', sa.Text(), nullable=True),
    sa.Column('industry', sa.Text(), nullable=True),
    sa.Column('company_size', sa.BigInteger(), nullable=True),
    sa.Column('country', sa.Text(), nullable=True),
    sa.Column('city', sa.Text(), nullable=True),
    sa.Column('is_free_mail', sa.Boolean(), nullable=True),
    sa.Column('is_role_address', sa.Boolean(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('account_match', sa.Text(), nullable=True),
    sa.Column('lifecycle_stage', sa.Text(), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('opt_out', sa.Boolean(), nullable=False),
    sa.Column('do_not_contact', sa.Boolean(), nullable=False),
    sa.Column('is_competitor', sa.Boolean(), nullable=False),
    sa.Column('erased_at', sa.DateTime(), nullable=True),
    sa.Column('first_source', sa.Text(), nullable=True),
    sa.Column('first_campaign_id', sa.Text(), nullable=True),
    sa.Column('first_channel', sa.Text(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.account_id'], ),
    sa.PrimaryKeyConstraint('person_id'),
    sa.UniqueConstraint('email_norm'),
    sa.UniqueConstraint('source_key')
    )
    op.create_table('stg_campaign_spend',
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('campaign_id', sa.Text(), nullable=True),
    sa.Column('campaign_name', sa.Text(), nullable=True),
    sa.Column('channel', sa.Text(), nullable=True),
    sa.Column('spend_date', sa.Date(), nullable=True),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('state_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.batch_id'], ),
    sa.PrimaryKeyConstraint('batch_id', 'row_number', name='pk_stg_campaign_spend')
    )
    with op.batch_alter_table('stg_campaign_spend', schema=None) as batch_op:
        batch_op.create_index('ix_stg_campaign_spend_state', ['state'], unique=False)

    op.create_table('stg_crm_outcomes',
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('source_outcome_id', sa.Text(), nullable=True),
    sa.Column('handoff_id', sa.BigInteger(), nullable=True),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('reason_code', sa.Text(), nullable=True),
    sa.Column('selling_step', sa.Text(), nullable=True),
    sa.Column('amount', sa.Float(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('state_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.batch_id'], ),
    sa.PrimaryKeyConstraint('batch_id', 'row_number', name='pk_stg_crm_outcomes')
    )
    with op.batch_alter_table('stg_crm_outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_stg_crm_outcomes_state', ['state'], unique=False)

    op.create_table('stg_inbound_leads',
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('source_record_id', sa.Text(), nullable=True),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('first_name', sa.Text(), nullable=True),
    sa.Column('last_name', sa.Text(), nullable=True),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('company', sa.Text(), nullable=True),
    sa.Column('company_domain', sa.Text(), nullable=True),
    sa.Column('job_title', sa.Text(), nullable=True),
    sa.Column('industry', sa.Text(), nullable=True),
    sa.Column('company_size', sa.BigInteger(), nullable=True),
    sa.Column('country', sa.Text(), nullable=True),
    sa.Column('city', sa.Text(), nullable=True),
    sa.Column('lead_source', sa.Text(), nullable=True),
    sa.Column('campaign_id', sa.Text(), nullable=True),
    sa.Column('channel', sa.Text(), nullable=True),
    sa.Column('landing_url', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('opt_out', sa.Boolean(), nullable=True),
    sa.Column('do_not_call', sa.Boolean(), nullable=True),
    sa.Column('converted', sa.Boolean(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('state_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.batch_id'], ),
    sa.PrimaryKeyConstraint('batch_id', 'row_number', name='pk_stg_inbound_leads')
    )
    with op.batch_alter_table('stg_inbound_leads', schema=None) as batch_op:
        batch_op.create_index('ix_stg_inbound_leads_state', ['state'], unique=False)

    op.create_table('stg_touches',
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('source_touch_id', sa.Text(), nullable=True),
    sa.Column('source_record_id', sa.Text(), nullable=True),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('touch_type', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(), nullable=True),
    sa.Column('campaign_id', sa.Text(), nullable=True),
    sa.Column('channel', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=True),
    sa.Column('state_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.batch_id'], ),
    sa.PrimaryKeyConstraint('batch_id', 'row_number', name='pk_stg_touches')
    )
    with op.batch_alter_table('stg_touches', schema=None) as batch_op:
        batch_op.create_index('ix_stg_touches_state', ['state'], unique=False)

    op.create_table('person_records',
    sa.Column('record_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('match_rule', sa.Text(), nullable=False),
    sa.Column('match_score', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('source_record_id', sa.Text(), nullable=True),
    sa.Column('email_norm', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['people.person_id'], ),
    sa.PrimaryKeyConstraint('record_id'),
    sa.UniqueConstraint('batch_id', 'row_number', name='uq_person_record_row')
    )
    with op.batch_alter_table('person_records', schema=None) as batch_op:
        batch_op.create_index('ix_person_records_email', ['email_norm'], unique=False)
        batch_op.create_index('ix_person_records_person', ['person_id'], unique=False)
        batch_op.create_index('ix_person_records_source_id', ['source', 'source_record_id'], unique=False)

    op.create_table('touches',
    sa.Column('touch_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('source_touch_id', sa.Text(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('touch_type', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('campaign_id', sa.Text(), nullable=True),
    sa.Column('channel', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('row_number', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['people.person_id'], ),
    sa.PrimaryKeyConstraint('touch_id'),
    sa.UniqueConstraint('source', 'source_touch_id', name='uq_touch_source_id')
    )
    with op.batch_alter_table('touches', schema=None) as batch_op:
        batch_op.create_index('ix_touches_person', ['person_id', 'occurred_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('touches', schema=None) as batch_op:
        batch_op.drop_index('ix_touches_person')

    op.drop_table('touches')
    with op.batch_alter_table('person_records', schema=None) as batch_op:
        batch_op.drop_index('ix_person_records_source_id')
        batch_op.drop_index('ix_person_records_person')
        batch_op.drop_index('ix_person_records_email')

    op.drop_table('person_records')
    with op.batch_alter_table('stg_touches', schema=None) as batch_op:
        batch_op.drop_index('ix_stg_touches_state')

    op.drop_table('stg_touches')
    with op.batch_alter_table('stg_inbound_leads', schema=None) as batch_op:
        batch_op.drop_index('ix_stg_inbound_leads_state')

    op.drop_table('stg_inbound_leads')
    with op.batch_alter_table('stg_crm_outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_stg_crm_outcomes_state')

    op.drop_table('stg_crm_outcomes')
    with op.batch_alter_table('stg_campaign_spend', schema=None) as batch_op:
        batch_op.drop_index('ix_stg_campaign_spend_state')

    op.drop_table('stg_campaign_spend')
    op.drop_table('people')
    op.drop_table('outcomes')
    op.drop_table('campaign_spend')
    op.drop_table('suppressions')
    op.drop_table('scores')
    op.drop_table('quarantine')
    with op.batch_alter_table('pipeline_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_pipeline_runs_run')

    op.drop_table('pipeline_runs')
    op.drop_table('models')
    op.drop_table('merges')
    op.drop_table('match_reviews')
    op.drop_table('lifecycle_events')
    op.drop_table('ingest_batches')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_handoffs_owner')

    op.drop_table('handoffs')
    op.drop_table('erasures')
    op.drop_table('campaigns')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_name_norm'))

    op.drop_table('accounts')
